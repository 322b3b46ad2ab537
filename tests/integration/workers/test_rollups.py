#!/usr/bin/env python3
"""Roll-up integration test (migrations 0004/0005) against the real Kafka broker and PostgreSQL.

Feeds tests/fixtures/projects (tenant "default"), tests/fixtures/bad/projects ("bad") and
crafted transcripts (tenant "craft") through obs-producer --once into a private topic,
then obs-worker into a private database, in two phases so that kept usage rows are
replaced and flipped to /btw replays after they were first counted. Asserts:
- sessions token/cost columns == ccusage-session.json and == SUM over message_usage,
  for every session (assistant_messages, subagent cost and models too);
- daily_usage per UTC day == ccusage-daily.json (tokens exact, cost within $0.000001)
  and == SUM over message_usage WHERE NOT btw_replay per key, after a replaced row
  moved between sessions and a kept row became a /btw replay;
- counters, active_ms, ended_with, session_files against values computed here from
  the fixture files;
- insights: none on the fixtures, tool_error_loop / long_tool_call /
  ended_with_api_error / ended_interrupted / cost_outlier on crafted lines, with
  sessions.insights in step;
- a second consumer group over the same topic changes no roll-up.
"""
import datetime as dt
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import obs_e2e as e2e  # noqa: E402

ROOT = Path(e2e.REPO)
EXP = ROOT / "tests" / "fixtures" / "expected"
FIX = ROOT / "tests" / "fixtures" / "projects"
c = e2e.Check("rollups")


def q(url, sql):
    return e2e.psql(url, sql)


def metric(port, name):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except Exception:
        return -1
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return -1


def topic_count(boot, topic):
    import subprocess
    r = subprocess.run(["kcat", "-b", boot, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "x\n"],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.count("x")


def produce(env, roots, ckpt, tenant):
    import subprocess
    penv = dict(os.environ, **env, OBS_WATCH_ROOTS=",".join(str(r) for r in roots), OBS_CHECKPOINT_PATH=str(ckpt),
                OBS_HOST="it-host", OBS_USER="alice", OBS_ADMIN_LISTEN="off", OBS_TENANT=tenant)
    r = subprocess.run([os.path.join(e2e.BIN, "obs-producer"), "--once"], env=penv, capture_output=True,
                       text=True, timeout=120)
    c.ok(r.returncode == 0, f"obs-producer --once ({tenant}, {len(roots)} roots)", r.stderr[-1500:])


def settle(port, total, timeout=90):
    return e2e.wait_for(lambda: metric(port, "observatory_worker_records_total") >= total, timeout)


# ---- crafted transcripts ----------------------------------------------------------------


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def line(kind, t, sid, **kw):
    o = {"type": kind, "timestamp": iso(t), "sessionId": sid, "uuid": f"u-{sid}-{iso(t)}-{kind}",
         "cwd": "/craft", "version": "2.1.39", "isSidechain": False, "userType": "external"}
    o.update(kw)
    return json.dumps(o, separators=(",", ":"))


def asst(t, sid, mid, req, blocks, tokens=(10, 20, 0, 0), model="claude-sonnet-4-5-20250929", side=False, **kw):
    usage = {"input_tokens": tokens[0], "output_tokens": tokens[1], "cache_creation_input_tokens": tokens[2],
             "cache_read_input_tokens": tokens[3]}
    return line("assistant", t, sid, requestId=req, isSidechain=side,
                message={"id": mid, "type": "message", "role": "assistant", "model": model, "content": blocks,
                         "usage": usage}, **kw)


def user(t, sid, content, **kw):
    return line("user", t, sid, message={"role": "user", "content": content}, **kw)


def tool_use(tid, name, inp):
    return {"type": "tool_use", "id": tid, "name": name, "input": inp}


def tool_result(tid, err=False, text="ok"):
    return {"type": "tool_result", "tool_use_id": tid, "content": text, "is_error": err}


def write(root, sid, lines, proj="-craft"):
    p = root / proj / f"{sid}.jsonl"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(x + "\n" for x in lines))


def craft_phase1(root, now):
    t = now - dt.timedelta(days=1)
    s = lambda k: t + dt.timedelta(seconds=k)  # noqa: E731
    # craft-loop: Bash fails 3 times in a row, a 6-minute Read, ends with an API error.
    sid = "craft-loop"
    L = [user(s(0), sid, "fix the build")]
    for i in range(3):
        L.append(asst(s(10 + 10 * i), sid, f"msg_loop{i}", f"req_loop{i}",
                      [tool_use(f"toolu_loop{i}", "Bash", {"command": "make"})]))
        L.append(user(s(12 + 10 * i), sid, [tool_result(f"toolu_loop{i}", True, f"make: *** error {i}")]))
    L.append(asst(s(50), sid, "msg_long", "req_long", [tool_use("toolu_long", "Read", {"file_path": "/craft/a.c"})]))
    L.append(user(s(50 + 360), sid, [tool_result("toolu_long")]))
    L.append(asst(s(420), sid, "msg_apierr", "req_apierr", [{"type": "text", "text": "API Error: 529 overloaded"}],
                  tokens=(0, 0, 0, 0), model="<synthetic>", isApiErrorMessage=True))
    write(root, sid, L)
    # craft-intr: ends with an interruption (then the synthetic "No response requested.").
    sid = "craft-intr"
    write(root, sid, [user(s(0), sid, "run all tests"),
                      asst(s(5), sid, "msg_i1", "req_i1", [{"type": "text", "text": "Running."}]),
                      user(s(9), sid, [{"type": "text", "text": "[Request interrupted by user]"}]),
                      asst(s(9.001), sid, "msg_i2", "req_i2", [{"type": "text", "text": "No response requested."}],
                           tokens=(0, 0, 0, 0), model="<synthetic>")])
    # 24 ordinary sessions and one expensive one, for cost_outlier.
    for k in range(24):
        sid = f"craft-cost-{k:02d}"
        write(root, sid, [user(s(k), sid, "hi"), asst(s(k + 1), sid, f"msg_c{k}", f"req_c{k}",
                                                       [{"type": "text", "text": "hello"}],
                                                       tokens=(100 + k, 200, 0, 0))])
    sid = "craft-cost-big"
    write(root, sid, [user(s(0), sid, "big job"), asst(s(1), sid, "msg_big", "req_big", [{"type": "text", "text": "."}],
                                                       tokens=(50000, 40000, 0, 0))])
    # craft-pair: tool results in every order against their use (the worker pairs a
    # result with its use at insert when both are in one batch, ADR 0024): a result
    # before its use, two results for one id (the later one counts), a use whose
    # result comes 60 lines later (another batch of 40), a use answered in phase 2.
    sid = "craft-pair"
    L = [user(s(200), sid, "pairs"),
         user(s(201), sid, [tool_result("toolu_pair_early", True, "early error")]),
         asst(s(202), sid, "msg_pe", "req_pe", [tool_use("toolu_pair_early", "Grep", {"pattern": "x"})]),
         asst(s(203), sid, "msg_p2", "req_p2", [tool_use("toolu_pair_twice", "Bash", {"command": "ls"})]),
         user(s(204), sid, [tool_result("toolu_pair_twice", True, "first try failed")]),
         user(s(206), sid, [tool_result("toolu_pair_twice", False, "second try")]),
         asst(s(207), sid, "msg_pl", "req_pl", [tool_use("toolu_pair_late", "Read", {"file_path": "/craft/l.c"})]),
         asst(s(208), sid, "msg_pp2", "req_pp2", [tool_use("toolu_pair_phase2", "Read", {"file_path": "/craft/p.c"})])]
    for k in range(60):
        L.append(user(s(210 + k), sid, f"filler {k}"))
    L.append(user(s(280), sid, [tool_result("toolu_pair_late", True, "late error")]))
    write(root, sid, L)
    # craft-z (sorts after craft-a): the copy of msg_move that phase 2 takes away, and
    # a /btw-like sidechain copy of msg_btw that phase 2 turns into a replay.
    sid = "craft-z"
    write(root, sid, [user(s(0), sid, "z"),
                      asst(s(1), sid, "msg_move", "req_move", [{"type": "text", "text": "moved"}], tokens=(7, 9, 0, 0)),
                      asst(s(2), sid, "msg_btw", "req_side", [{"type": "text", "text": "side"}], tokens=(3, 4, 0, 0),
                           side=True)], proj="-craft-z")


def craft_phase2(root, now):
    t = now - dt.timedelta(days=1)
    s = lambda k: t + dt.timedelta(seconds=k)  # noqa: E731
    p = root / "-craft" / "craft-pair.jsonl"
    with p.open("a") as f:
        f.write(user(s(300), "craft-pair", [tool_result("toolu_pair_phase2", False, "done")]) + "\n")
    sid = "craft-a"
    write(root, sid, [user(s(0), sid, "a"),
                      asst(s(1), sid, "msg_move", "req_move", [{"type": "text", "text": "moved"}], tokens=(7, 9, 0, 0)),
                      asst(s(2), sid, "msg_btw", "req_main", [{"type": "text", "text": "main"}], tokens=(3, 4, 0, 0))],
          proj="-craft-a")


# ---- facts computed here from the fixture files ---------------------------------------------


def ms(ts):
    return int(dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def tool_truth(roots):
    """{(tenant, tool_use_id): (use ms, [(result ms, is_error)] in file order, files with a result)}
    from the transcript files, for lines with a timestamp."""
    truth = {}
    for tenant, root in roots:
        for f in sorted(root.rglob("*.jsonl")):
            for raw in f.read_bytes().split(b"\n")[:-1]:
                try:
                    o = json.loads(raw)
                except ValueError:
                    continue
                msg = o.get("message") if isinstance(o, dict) else None
                blocks = msg.get("content") if isinstance(msg, dict) else None
                if not isinstance(blocks, list) or not isinstance(o.get("timestamp"), str):
                    continue
                t = ms(o["timestamp"])
                for b in blocks:
                    if not isinstance(b, dict):
                        continue
                    if b.get("type") == "tool_use" and o.get("type") == "assistant" and b.get("id"):
                        e = truth.setdefault((tenant, b["id"]), [None, [], set()])
                        e[0] = t if e[0] is None else min(e[0], t)
                    elif b.get("type") == "tool_result" and b.get("tool_use_id"):
                        e = truth.setdefault((tenant, b["tool_use_id"]), [None, [], set()])
                        e[1].append((t, b.get("is_error") is True))
                        e[2].add(str(f))
    return truth


def fixture_facts():
    facts = {}
    for f in sorted(FIX.rglob("*.jsonl")):
        rel = f.relative_to(FIX).parts
        sid = Path(rel[1]).stem if len(rel) == 2 else rel[1]
        d = facts.setdefault(sid, {"times": [], "user_messages": 0, "tool_calls": 0, "tool_errors": 0,
                                   "api_errors": 0, "interruptions": 0, "files": {}, "convo": []})
        for raw in f.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            o = json.loads(raw)
            ts = o.get("timestamp")
            t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) if isinstance(ts, str) else None
            if t:
                d["times"].append(t)
            m = o.get("message") if isinstance(o.get("message"), dict) else {}
            content = m.get("content")
            blocks = content if isinstance(content, list) else []
            text = content if isinstance(content, str) else "\n".join(
                b.get("text", "") for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str))
            results = [b for b in blocks if b.get("type") == "tool_result"]
            uses = [b for b in blocks if b.get("type") == "tool_use"]
            d["tool_calls"] += len(uses)
            d["tool_errors"] += sum(1 for b in results if b.get("is_error") is True)
            d["api_errors"] += o.get("isApiErrorMessage") is True
            if o.get("type") == "user":
                if text.startswith("[Request interrupted by user"):
                    d["interruptions"] += 1
                elif not results and not o.get("isMeta") and not o.get("isSidechain"):
                    d["user_messages"] += 1
            for b in uses:
                act = {"Read": "read", "Write": "write", "Edit": "edit", "MultiEdit": "edit",
                       "NotebookEdit": "edit"}.get(b.get("name"))
                inp = b.get("input") or {}
                path = inp.get("file_path") or inp.get("notebook_path")
                if act and path:
                    d["files"][(path, act)] = d["files"].get((path, act), 0) + 1
            if t and o.get("type") in ("user", "assistant") and not o.get("isSidechain") and not o.get("isMeta") \
                    and not (m.get("model") == "<synthetic>" and not o.get("isApiErrorMessage")):
                state = "api_error" if o.get("isApiErrorMessage") else (
                    "interrupted" if o.get("type") == "user" and text.startswith("[Request interrupted by user")
                    else None)
                d["convo"].append((t, state))
    for d in facts.values():
        ts = sorted(d["times"])
        d["active_ms"] = sum(g for g in (round((b - a).total_seconds() * 1000) for a, b in zip(ts, ts[1:]))
                             if g < 300000)
        d["ended_with"] = max(d["convo"], key=lambda x: x[0])[1] if d["convo"] else None
    return facts


ROLLUP_DIGEST = {
    "sessions": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, session_id, events,"
                " input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, total_tokens, cost_usd,"
                " subagent_cost_usd, models, user_messages, assistant_messages, tool_calls, tool_errors, api_errors,"
                " interruptions, active_ms, has_errors, insights, ended_with FROM sessions) t",
    "daily_usage": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM daily_usage t",
    "session_files": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM session_files t",
    "insights": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, insight_id, session_id,"
                " kind, severity, reason, details, event_time, created_at FROM insights) t",
}


def main():
    if not os.environ.get("KAFKA_BOOTSTRAP") or not os.environ.get("DATABASE_URL"):
        print("FAIL: rollups: KAFKA_BOOTSTRAP / DATABASE_URL not set (run via tests/run.sh integration)")
        print("0 passed, 1 failed")
        return 1
    boot = os.environ["KAFKA_BOOTSTRAP"]
    tag = f"{os.getpid()}_{int(time.time())}"
    dbname = f"wrk_roll_{tag}"
    url = e2e.fresh_db(dbname)
    topic = e2e.topics(f"wrk.roll.{tag}", partitions=3)
    tmp = Path(tempfile.mkdtemp(prefix="wrk_roll_"))
    craft = tmp / "craft" / "projects"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    craft_phase1(craft, now)
    env = dict(OBS_KAFKA_BOOTSTRAP=boot, OBS_KAFKA_TOPIC=topic, OBS_KAFKA_DLQ_TOPIC=topic + ".dlq",
               DATABASE_URL=url, OBS_DATABASE_URL=url, OBS_LOG_LEVEL="info",
               OBS_PRICES_PATH=str(ROOT / "common" / "model_prices.json"))
    produce(env, [FIX], tmp / "ckpt1", "default")
    produce(env, [ROOT / "tests" / "fixtures" / "bad" / "projects"], tmp / "ckpt3", "bad")
    produce(env, [craft], tmp / "ckpt2", "craft")

    port1 = e2e.free_port()
    w1 = e2e.Proc(f"rollups-worker1-{tag}", [os.path.join(e2e.BIN, "obs-worker")],
                  dict(env, OBS_KAFKA_GROUP=f"wrk-roll-{tag}-1", OBS_ADMIN_LISTEN=f"127.0.0.1:{port1}",
                       OBS_BATCH_MAX_RECORDS="40", OBS_INSIGHTS_OUTLIER_INTERVAL_MS="0"))
    total = topic_count(boot, topic)
    c.ok(settle(port1, total), f"worker settled phase 1 ({total} records)", w1.tail())
    # phase 2: a copy that replaces a kept row in another session, and a main-chain
    # copy that turns a counted sidechain row into a /btw replay.
    before_move = q(url, "SELECT session_id, input_tokens FROM message_usage WHERE message_id = 'msg_move'")
    c.eq(before_move, [["craft-z", "7"]], "phase 1 keeps msg_move in craft-z")
    craft_phase2(craft, now)
    produce(env, [craft], tmp / "ckpt2", "craft")
    total = topic_count(boot, topic)
    c.ok(settle(port1, total), f"worker settled phase 2 ({total} records)", w1.tail())

    # ---- sessions == ccusage session report == SUM(message_usage) ---------------------------
    cols = "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, total_tokens, cost_usd"
    srows = {r[0]: r[1:] for r in q(url, f"SELECT session_id, {cols} FROM sessions WHERE tenant = 'default'")}
    for s in json.loads((EXP / "ccusage-session.json").read_text())["sessions"]:
        got = srows.get(s["sessionId"])
        want = [s["inputTokens"], s["outputTokens"], s["cacheCreationTokens"], s["cacheReadTokens"], s["totalTokens"]]
        c.eq([int(x) for x in got[:5]] if got else None, want, f"{s['sessionId'][:8]} tokens == ccusage session")
        c.ok(got is not None and abs(float(got[5]) - s["totalCost"]) <= 1e-6,
             f"{s['sessionId'][:8]} cost {got[5] if got else None} == ccusage {s['totalCost']}")
    mism = q(url, """
        SELECT s.tenant, s.session_id FROM sessions s LEFT JOIN (
            SELECT tenant, session_id, sum(input_tokens) i, sum(output_tokens) o, sum(cache_creation_tokens) cc,
                   sum(cache_read_tokens) cr, sum(cost_usd) cost, count(*) n,
                   sum(cost_usd) FILTER (WHERE is_sidechain OR source_path LIKE '%/subagents/%') sub,
                   array_agg(DISTINCT model COLLATE "C" ORDER BY model COLLATE "C")
                       FILTER (WHERE model <> '<synthetic>' AND model <> '') models
              FROM message_usage GROUP BY 1, 2) m USING (tenant, session_id)
         WHERE (s.input_tokens, s.output_tokens, s.cache_creation_tokens, s.cache_read_tokens, s.cost_usd,
                s.assistant_messages, s.subagent_cost_usd, s.total_tokens, s.models)
               IS DISTINCT FROM (coalesce(m.i, 0), coalesce(m.o, 0), coalesce(m.cc, 0), coalesce(m.cr, 0),
                                 coalesce(m.cost, 0), coalesce(m.n, 0), coalesce(m.sub, 0),
                                 coalesce(m.i + m.o + m.cc + m.cr, 0), coalesce(m.models, '{}'))""")
    nsess = q(url, "SELECT count(*) FROM sessions")[0][0]
    c.eq(mism, [], f"all {nsess} sessions: tokens, cost, messages, subagent cost, models == SUM(message_usage)")
    c.eq(q(url, "SELECT session_id, input_tokens FROM message_usage WHERE message_id = 'msg_move'"),
         [["craft-a", "7"]], "phase 2 moved msg_move to craft-a (path sorts first)")
    c.eq(q(url, "SELECT input_tokens, assistant_messages FROM sessions WHERE session_id = 'craft-z'"),
         [["3", "1"]], "craft-z lost the moved usage (delta applied to the old session)")
    c.eq(q(url, "SELECT btw_replay FROM message_usage WHERE message_id = 'msg_btw' AND is_sidechain"), [["t"]],
         "the phase-1 sidechain copy became a /btw replay")
    sub = q(url, "SELECT subagent_cost_usd > 0, subagent_cost_usd <= cost_usd FROM sessions"
                 " WHERE session_id = '9d3b7f10-4e6a-4c21-8f5d-b2a0c7e4d631'")
    c.eq(sub, [["t", "t"]], "9d3b7f10 has sub-agent cost, included in cost_usd")

    # ---- daily_usage == ccusage daily report == SUM(message_usage NOT btw_replay) ------------
    drows = {r[0]: r[1:] for r in q(url, "SELECT day, sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),"
                                         " sum(cache_read_tokens), sum(cost_usd) FROM daily_usage"
                                         " WHERE tenant = 'default' GROUP BY 1")}
    daily = json.loads((EXP / "ccusage-daily.json").read_text())["daily"]
    for d in daily:
        got = drows.get(d["date"])
        want = [d["inputTokens"], d["outputTokens"], d["cacheCreationTokens"], d["cacheReadTokens"]]
        c.eq([int(x) for x in got[:4]] if got else None, want, f"daily {d['date']} tokens == ccusage daily")
        c.ok(got is not None and abs(float(got[4]) - d["totalCost"]) <= 1e-6,
             f"daily {d['date']} cost {got[4] if got else None} == ccusage {d['totalCost']}")
    extra = sorted(set(drows) - {d["date"] for d in daily})
    nonzero = [k for k in extra if any(float(x) for x in drows[k])]
    c.eq(nonzero, [], "no other day has fixture usage")
    dm = q(url, """
        SELECT * FROM (SELECT tenant, day, project, model, os_user, host, messages, input_tokens, output_tokens,
                              cache_creation_tokens, cache_read_tokens, cost_usd FROM daily_usage
                        WHERE messages <> 0 OR cost_usd <> 0
                       EXCEPT
                       SELECT tenant, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),
                              coalesce(model, ''), os_user, host, count(*), sum(input_tokens), sum(output_tokens),
                              sum(cache_creation_tokens), sum(cache_read_tokens), sum(cost_usd)
                         FROM message_usage WHERE NOT btw_replay GROUP BY 1, 2, 3, 4, 5, 6) x""")
    n_keys = q(url, "SELECT count(*) FROM (SELECT DISTINCT tenant, (event_time AT TIME ZONE 'UTC')::date, project,"
                    " model, os_user, host FROM message_usage WHERE NOT btw_replay) k")[0][0]
    n_rows = q(url, "SELECT count(*) FROM daily_usage WHERE messages <> 0")[0][0]
    c.ok(dm == [] and n_keys == n_rows, f"every daily_usage row == SUM(message_usage NOT btw_replay) ({n_rows} keys)",
         str(dm[:3]))

    # ---- counters, active_ms, ended_with, files -------------------------------------------------
    facts = fixture_facts()
    lines = json.loads((EXP / "lines.json").read_text())["sessions"]
    rows = {r[0]: r[1:] for r in q(url, "SELECT session_id, user_messages, tool_calls, tool_errors, api_errors,"
                                        " interruptions, active_ms, coalesce(ended_with, ''), has_errors, insights"
                                        " FROM sessions WHERE tenant = 'default'")}
    for sid in lines:
        f = facts[sid]
        want = [f["user_messages"], f["tool_calls"], f["tool_errors"], f["api_errors"], f["interruptions"],
                f["active_ms"]]
        got = [int(x) for x in rows[sid][:6]]
        c.eq(got, want, f"{sid[:8]} user_messages, tool_calls, tool_errors, api_errors, interruptions, active_ms")
        c.eq(rows[sid][6], f["ended_with"] or "", f"{sid[:8]} ended_with")
        c.eq(rows[sid][7], "t" if f["tool_errors"] or f["api_errors"] else "f", f"{sid[:8]} has_errors")
        c.eq(int(rows[sid][1]), lines[sid]["tool_use_ids"], f"{sid[:8]} tool_calls == lines.json tool_use_ids")
        c.eq(int(rows[sid][2]), lines[sid]["error_tool_results"], f"{sid[:8]} tool_errors == lines.json")
        files = {(r[0], r[1]): int(r[2]) for r in q(url, "SELECT path, action, count FROM session_files"
                                                          f" WHERE tenant = 'default' AND session_id = '{sid}'")}
        c.eq(files, f["files"], f"{sid[:8]} session_files ({len(files)} path x action)")
    c.eq(rows["3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40"][2], "1", "3f2a9c1e: the Edit error is one tool error")
    c.eq(rows["5a1f6e3d-0c2b-4d8e-b7a9-2e6c4f1d9a03"][3], "2", "5a1f6e3d: the two 429 lines are API errors")
    c.eq(rows["b7e0d452-91c3-4f7a-8e26-4a9d1c3f0e75"][4], "1", "b7e0d452: one interruption")
    c.eq(q(url, "SELECT models FROM sessions WHERE session_id = '5a1f6e3d-0c2b-4d8e-b7a9-2e6c4f1d9a03'"),
         [["{claude-sonnet-4-5-20250929}"]], "5a1f6e3d models without <synthetic>")
    c.eq(q(url, "SELECT count(*) FROM insights WHERE tenant = 'default'"), [["0"]],
         "no insight on the fixtures (errors are mid-session, single, and no call is long)")
    cats = q(url, "SELECT tool_category, input_summary FROM tool_calls WHERE tool_name = 'Bash' LIMIT 1")
    c.ok(cats and cats[0][0] == "shell" and cats[0][1], f"Bash calls: category shell, command summary {cats[:1]}")

    # ---- insights on crafted lines --------------------------------------------------------------
    ins = {r[0]: r[1:] for r in q(url, "SELECT insight_id, kind, severity, reason, details->>'failures'"
                                       " FROM insights WHERE tenant = 'craft'")}
    loop = ins.get("tool_error_loop:craft-loop:toolu_loop0")
    c.ok(loop and loop[3] == "3" and "Bash failed 3 times in a row" in loop[2] and "error 2" in loop[2],
         f"tool_error_loop with reason: {loop}")
    lng = ins.get("long_tool_call:toolu_long")
    c.ok(lng and "Read call took 360.0 s" in lng[2], f"long_tool_call with reason: {lng}")
    c.ok("ended_with_api_error:craft-loop" in ins, "ended_with_api_error on craft-loop")
    c.ok("ended_interrupted:craft-intr" in ins, "ended_interrupted on craft-intr (synthetic reply ignored)")
    big = ins.get("cost_outlier:craft-cost-big")
    c.ok(big and "above the tenant's 30-day outlier fence" in big[2], f"cost_outlier: {big}")
    c.eq(sorted(k.split(":")[0] for k in ins),
         sorted(["tool_error_loop", "long_tool_call", "ended_with_api_error", "ended_interrupted", "cost_outlier"]),
         "exactly the expected crafted insights")
    c.eq(q(url, "SELECT session_id, insights FROM sessions WHERE insights <> (SELECT count(*) FROM insights i"
                " WHERE i.tenant = sessions.tenant AND i.session_id = sessions.session_id)"), [],
         "sessions.insights == count of its insights")
    c.eq(q(url, "SELECT ended_with, api_errors, tool_errors, has_errors FROM sessions WHERE session_id = 'craft-loop'"),
         [["api_error", "1", "3", "t"]], "craft-loop counters")

    # ---- tool results == computed here from the files ------------------------------------------
    truth = tool_truth([("default", FIX), ("bad", ROOT / "tests" / "fixtures" / "bad" / "projects"),
                        ("craft", craft)])
    rows = q(url, "SELECT tenant, tool_use_id, (extract(epoch FROM event_time) * 1000)::bigint,"
                  " (extract(epoch FROM result_time) * 1000)::bigint, is_error, duration_ms,"
                  " error_excerpt IS NOT NULL FROM tool_calls")
    bad, checked = [], 0
    for tenant, tid, t_use, t_res, err, dur, has_exc in rows:
        e = truth.get((tenant, tid))
        if e is None or e[0] is None:
            continue
        checked += 1
        res = e[1]
        if not res:
            ok = t_res == "" and err == "" and dur == ""
        else:
            cands = res[-1:] if len(e[2]) == 1 else res  # one file: its last result; several: any copy
            got = (int(t_res), err == "t") if t_res else None
            ok = got in cands and int(dur) == max(0, int(t_res) - int(t_use)) and has_exc == err
        if not ok:
            bad.append((tenant, tid, t_res, err, dur, has_exc, res))
    c.ok(checked > 20 and not bad, f"{checked} tool calls: result time, error flag, duration, excerpt"
         " == the id's last result in the files", bad[:5])
    c.eq(q(url, "SELECT tool_use_id, is_error, error_excerpt, duration_ms FROM tool_calls"
                " WHERE session_id = 'craft-pair' ORDER BY 1"),
         [["toolu_pair_early", "t", "early error", "0"], ["toolu_pair_late", "t", "late error", "73000"],
          ["toolu_pair_phase2", "f", "", "92000"], ["toolu_pair_twice", "f", "", "3000"]],
         "craft-pair: result before use, second result wins, result 60 lines later, result in phase 2")
    c.eq(q(url, "SELECT count(*) FROM tool_results_pending"), [["0"]], "no tool result left pending")

    # ---- redelivery -----------------------------------------------------------------------------
    before = {k: q(url, v) for k, v in ROLLUP_DIGEST.items()}
    port2 = e2e.free_port()
    w2 = e2e.Proc(f"rollups-worker2-{tag}", [os.path.join(e2e.BIN, "obs-worker")],
                  dict(env, OBS_KAFKA_GROUP=f"wrk-roll-{tag}-2", OBS_ADMIN_LISTEN=f"127.0.0.1:{port2}",
                       OBS_BATCH_MAX_RECORDS="40", OBS_INSIGHTS_OUTLIER_INTERVAL_MS="0"))
    c.ok(settle(port2, total), "worker 2 (second group) re-read every record", w2.tail())
    after = {k: q(url, v) for k, v in ROLLUP_DIGEST.items()}
    for k in before:
        c.eq(after[k], before[k], f"redelivery changed no row of {k}")
    # ---- derived from what each batch changed == derived from every row ---------------------------
    # (batches of 40 records: most derives took the incremental path of migration 0009)
    derived = ("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, session_id, active_ms,"
               " models, ended_with, has_errors, insights FROM sessions) t")
    insights = ("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, insight_id, kind,"
                " severity, reason, details, event_time FROM insights) t")
    inc = (q(url, derived), q(url, insights))
    q(url, "SELECT count(obs_session_derive(tenant, session_id)) FROM sessions")
    c.eq((q(url, derived), q(url, insights)), inc,
         "recomputing every session from all its rows changes no derived column and no insight")
    c.eq(w1.stop(), 0, "worker 1 exits 0")
    c.eq(w2.stop(), 0, "worker 2 exits 0")
    if c.failed == 0:
        e2e.drop_db(dbname)
    c.finish()


if __name__ == "__main__":
    main()
