#!/usr/bin/env python3
"""Worker integration test against the real Kafka broker and PostgreSQL.

obs-producer --once publishes tests/fixtures/projects and tests/fixtures/bad/projects
to a private topic, kcat adds a garbage record, obs-worker stores everything into a
private database. Asserts: every line stored exactly once, per-session usage equals
ccusage 20 (tests/fixtures/expected/ccusage-session.json, ccusage-bad-session.json)
to the token and within $0.000001, tool calls joined, NUL and invalid UTF-8 lines
stored, poison records in the DLQ (with headers) and in ingest_errors, a second
consumer group over the same topic changes no table, SIGTERM exits 0.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import obs_e2e  # noqa: E402  (track: workers are killed if the test dies)

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / os.environ.get("OBS_BUILD", "build") / "bin"
EXP = ROOT / "tests" / "fixtures" / "expected"
passed = failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
        print(f"PASS: {msg}")
    else:
        failed += 1
        print(f"FAIL: {msg}")
    return cond


def sh(cmd, **kw):
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=ROOT, **kw)


def stack(fn, arg):
    r = sh(f". tests/lib/stack.sh; {fn} {arg}")
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit(f"FAIL: {fn} {arg}\n0 passed, 1 failed")
    return r.stdout.strip()


def psql(url, sql):
    r = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


def topic_count(boot, topic):
    r = subprocess.run(["kcat", "-b", boot, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "x\n"],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.count("x")


def metric(port, name):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except Exception:
        return -1
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return -1


def wait(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def start_worker(env, group, port, log):
    e = dict(env, OBS_KAFKA_GROUP=group, OBS_ADMIN_LISTEN=f"127.0.0.1:{port}", OBS_BATCH_MAX_RECORDS="50")
    return obs_e2e.track(subprocess.Popen([str(BIN / "obs-worker")], env=e, cwd=ROOT, stdout=log, stderr=log))


def digest(url):
    q = {
        "events": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, event_id, event_time,"
                  " session_id, type, text_content, raw, input_tokens FROM events) t",
        "tool_calls": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM tool_calls t",
        "message_usage": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM message_usage t",
        "sessions": "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT tenant, session_id,"
                    " project, cwd, git_branch, title, agent_version, first_event_at, last_event_at, events"
                    " FROM sessions) t",
        "ingest_errors": "SELECT count(*) FROM ingest_errors",
    }
    return {k: psql(url, v) for k, v in q.items()}


def main():
    boot = os.environ.get("KAFKA_BOOTSTRAP")
    if not boot or not os.environ.get("DATABASE_URL"):
        print("FAIL: KAFKA_BOOTSTRAP / DATABASE_URL not set (run via tests/run.sh integration)")
        print("0 passed, 1 failed")
        return 1
    tag = f"{os.getpid()}_{int(time.time())}"
    url = stack("obs_test_db", f"wrk_it_{tag}")
    topic = stack("obs_test_topics", f"wrk.it.{tag}")
    dlq = topic + ".dlq"
    tmp = Path(tempfile.mkdtemp(prefix="wrk_it_"))
    env = dict(os.environ, OBS_KAFKA_BOOTSTRAP=boot, OBS_KAFKA_TOPIC=topic, OBS_KAFKA_DLQ_TOPIC=dlq,
               DATABASE_URL=url, OBS_DATABASE_URL=url, OBS_LOG_LEVEL="info",
               OBS_PRICES_PATH=str(ROOT / "common" / "model_prices.json"))

    # --- feed: the producer, plus one garbage record -------------------------------
    penv = dict(env, OBS_WATCH_ROOTS=f"{ROOT}/tests/fixtures/projects,{ROOT}/tests/fixtures/bad/projects",
                OBS_CHECKPOINT_PATH=str(tmp / "ckpt"), OBS_HOST="it-host", OBS_USER="alice",
                OBS_ADMIN_LISTEN="off")
    r = subprocess.run([str(BIN / "obs-producer"), "--once"], env=penv, capture_output=True, text=True, timeout=120)
    if not check(r.returncode == 0, f"obs-producer --once published the fixtures (rc {r.returncode})"):
        print(r.stderr[-2000:])
    g = subprocess.run(["kcat", "-b", boot, "-P", "-t", topic, "-p", "0", "-k", "garbage-key"],
                       input=b"\x00\x01 this is not avro", capture_output=True, timeout=30)
    check(g.returncode == 0, "kcat published a garbage record")
    total = topic_count(boot, topic)
    check(total > 162, f"topic holds {total} records")

    # --- worker 1 ------------------------------------------------------------------
    port1 = 20000 + os.getpid() % 20000
    log1 = open(tmp / "worker1.log", "w")
    w1 = start_worker(env, f"wrk-it-{tag}-1", port1, log1)
    ok = wait(lambda: metric(port1, "observatory_worker_records_total") >= total, 90)
    check(ok, f"worker 1 settled all {total} records")
    try:
        ready = urllib.request.urlopen(f"http://127.0.0.1:{port1}/readyz", timeout=2).status == 200
    except Exception:
        ready = False
    check(ready, "/readyz is 200 while joined and connected")
    check(metric(port1, "observatory_worker_db_up") == 1, "db_up gauge is 1")

    # --- every line exactly once ---------------------------------------------------
    lines = json.loads((EXP / "lines.json").read_text())
    n_events = int(psql(url, "SELECT count(*) FROM events"))
    n_distinct = int(psql(url, "SELECT count(DISTINCT event_id) FROM events"))
    check(n_events == n_distinct, f"no event stored twice ({n_events} rows, {n_distinct} ids)")
    per_sess = dict(l.split("|") for l in psql(url, "SELECT session_id, count(*) FROM events GROUP BY 1").splitlines())
    for sid, s in lines["sessions"].items():
        check(int(per_sess.get(sid, 0)) == s["lines"], f"session {sid[:8]}: {per_sess.get(sid)} events == {s['lines']} lines")
    srow = dict(l.split("|", 1) for l in psql(url, "SELECT session_id, events FROM sessions").splitlines())
    check(all(int(srow.get(sid, -1)) == s["lines"] for sid, s in lines["sessions"].items()),
          "sessions.events equals the stored lines per session")

    # --- usage equals ccusage 20 ---------------------------------------------------
    rows = psql(url, "SELECT session_id, sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),"
                     " sum(cache_read_tokens), sum(cost_usd) FROM message_usage GROUP BY 1")
    mine = {r.split("|")[0]: r.split("|")[1:] for r in rows.splitlines()}
    for f in ("ccusage-session.json", "ccusage-bad-session.json"):
        for s in json.loads((EXP / f).read_text())["sessions"]:
            if s["sessionId"] == "unterminated-last-line":
                # ccusage reads a last line without '\n'; the producer holds it until it is
                # complete (a live file's partial line), so it never reaches the worker.
                continue
            m = mine.get(s["sessionId"])
            want = [s["inputTokens"], s["outputTokens"], s["cacheCreationTokens"], s["cacheReadTokens"]]
            got = [int(x) for x in m[:4]] if m else None
            check(got == want, f"{f} {s['sessionId'][:13]}: tokens {got} == ccusage {want}")
            check(m is not None and abs(float(m[4]) - s["totalCost"]) <= 1e-6,
                  f"{f} {s['sessionId'][:13]}: cost {m[4] if m else None} == ccusage {s['totalCost']}")
    check(psql(url, "SELECT DISTINCT price_version FROM message_usage") == lines["price_table_version"],
          "price_version recorded")
    btw = psql(url, "SELECT count(*) FROM message_usage WHERE btw_replay")
    check(btw == "1", f"the /btw sidechain replay is flagged ({btw})")
    daily = json.loads((EXP / "ccusage-daily.json").read_text())
    dsum = psql(url, "SELECT sum(input_tokens) FROM message_usage WHERE NOT btw_replay AND session_id IN ("
                     + ",".join(f"'{s}'" for s in lines["sessions"]) + ")")
    check(int(dsum) == daily["totals"]["inputTokens"], f"input without /btw replays {dsum} == ccusage daily total")

    # --- tool calls: one row per tool_use id (a resumed session's copy of a tool_use
    # is the same call, kept with the first session that stored it) ---------------
    uses, results, errors = set(), set(), set()
    for fpath in (ROOT / "tests" / "fixtures" / "projects").rglob("*.jsonl"):
        for line in fpath.read_bytes().split(b"\n")[:-1]:
            o = json.loads(line)
            c = (o.get("message") or {}).get("content") if isinstance(o.get("message"), dict) else None
            for b in c if isinstance(c, list) else []:
                if b.get("type") == "tool_use" and o.get("type") == "assistant":
                    uses.add(b["id"])
                elif b.get("type") == "tool_result":
                    results.add(b["tool_use_id"])
                    if b.get("is_error") is True:
                        errors.add(b["tool_use_id"])
    sids = ",".join(f"'{s}'" for s in lines["sessions"])
    got = psql(url, "SELECT count(*), count(DISTINCT tool_use_id), count(result_time),"
                    f" count(*) FILTER (WHERE is_error) FROM tool_calls WHERE session_id IN ({sids})").split("|")
    want = [len(uses), len(uses), len(uses & results), len(errors & uses)]
    check([int(x) for x in got] == want, f"tool calls (rows, ids, answered, errors) {got} == {want}")
    check(psql(url, "SELECT count(*) FROM tool_results_pending") == "0", "no tool result left pending")
    check(psql(url, "SELECT count(*) FROM tool_calls WHERE duration_ms IS NULL AND result_time IS NOT NULL") == "0",
          "every answered tool call has a duration")

    # --- NUL and invalid UTF-8 are stored, not DLQ'd --------------------------------
    nul = psql(url, "SELECT count(*) FROM events WHERE session_id = 'nul-in-string'")
    check(int(nul) >= 1 and psql(url, "SELECT count(*) FROM ingest_errors WHERE session_id = 'nul-in-string'") == "0",
          f"nul-in-string lines stored ({nul}), none in ingest_errors")
    utf = psql(url, "SELECT count(*) FROM events WHERE session_id = 'invalid-utf8'")
    check(int(utf) >= 1 and psql(url, "SELECT count(*) FROM ingest_errors WHERE session_id = 'invalid-utf8'") == "0",
          f"invalid-utf8 lines stored ({utf}), none in ingest_errors")

    # --- poison: DLQ with headers and ingest_errors --------------------------------
    errs = psql(url, "SELECT source_partition, source_offset, reason FROM ingest_errors ORDER BY 1, 2").splitlines()
    check(any("avro" in e for e in errs), "garbage record in ingest_errors with an avro reason")
    check(any("not JSON" in e for e in errs), "non-JSON line in ingest_errors")
    d = subprocess.run(["kcat", "-b", boot, "-C", "-t", dlq, "-o", "beginning", "-e", "-q",
                        "-f", "%k|%h\n"], capture_output=True, text=True, timeout=60)
    dl = [l for l in d.stdout.splitlines() if l]
    check(len(dl) == len(errs), f"DLQ holds {len(dl)} records == {len(errs)} ingest_errors")
    check(any(l.startswith("garbage-key|") and "obs.reason=" in l and f"obs.source.topic={topic}" in l
              and "obs.source.partition=0" in l and "obs.source.offset=" in l for l in dl),
          "garbage record in the DLQ with key and obs.* headers")
    check(n_events + len(errs) == total, f"events {n_events} + poison {len(errs)} == records {total}")

    # --- redelivery: a second group over the same topic changes nothing -------------
    before = digest(url)
    port2 = port1 + 1
    log2 = open(tmp / "worker2.log", "w")
    w2 = start_worker(env, f"wrk-it-{tag}-2", port2, log2)
    ok = wait(lambda: metric(port2, "observatory_worker_records_total") >= total, 90)
    check(ok, "worker 2 (second group) re-read every record")
    check(metric(port2, "observatory_worker_duplicates_total") == n_events, "worker 2 saw only duplicates")
    after = digest(url)
    for k in before:
        check(before[k] == after[k], f"redelivery changed no row of {k}")
    dl2 = subprocess.run(["kcat", "-b", boot, "-C", "-t", dlq, "-o", "beginning", "-e", "-q", "-f", "x\n"],
                         capture_output=True, text=True, timeout=60).stdout.count("x")
    check(int(psql(url, "SELECT count(*) FROM ingest_errors")) == len(errs), "ingest_errors not doubled")
    print(f"# DLQ after redelivery: {dl2} records (at-least-once on the DLQ topic)")

    # --- SIGTERM ----------------------------------------------------------------------
    for name, w in (("worker 1", w1), ("worker 2", w2)):
        w.send_signal(signal.SIGTERM)
        try:
            rc = w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            rc = -9
        check(rc == 0, f"{name} exits 0 on SIGTERM")

    psql(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "wrk_it_{tag}" WITH (FORCE)') if failed == 0 else None
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
