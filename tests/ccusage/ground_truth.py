#!/usr/bin/env python3
"""Independent ground truth for tests/fixtures/projects (stdlib only).

Reads the fixture transcripts, applies the ccusage 20 counting rules
(TRANSCRIPT-FORMAT.md section 4) re-implemented here in Python, prices the
kept usage with common/model_prices.json (section 4.4), and

  * asserts that the per-session and per-day figures equal ccusage 20.0.24's
    saved JSON (tests/fixtures/expected/ccusage-session.json and
    ccusage-daily.json): tokens exactly, cost within $0.000001;
  * asserts a few properties of the fixtures themselves (every line is one
    JSON object, every tool_use has a tool_result in the same session, ...);
  * compares with (or, with --write, rewrites) tests/fixtures/expected/lines.json.

Exit status 0 when everything matches, 1 otherwise.

    python3 tests/ccusage/ground_truth.py            # check
    python3 tests/ccusage/ground_truth.py --write    # regenerate lines.json
"""
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
PROJECTS = FIX / "projects"
EXPECTED = FIX / "expected"
PRICES = ROOT / "common" / "model_prices.json"
COST_TOLERANCE = 1e-6
TIER = 200_000

# keys whose `null` value makes ccusage 20 drop the whole line (has_unsupported_null_field)
NULL_REJECT = {"id", "cwd", "model", "speed", "costUSD", "version", "sessionId", "requestId",
               "isApiErrorMessage", "cache_read_input_tokens", "cache_creation_input_tokens"}
SEMVER_PREFIX = re.compile(r"^\d+\.\d+\.\d")

failures = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        failures.append(msg)


# ---------------------------------------------------------------------------
# path rules (ccusage 20): project = first dir under projects/;
# projects/<p>/<s>.jsonl -> <s>; projects/<p>/<s>/subagents/.../*.jsonl -> <s>
def session_of(rel_parts):
    if len(rel_parts) == 2:
        return rel_parts[1][: -len(".jsonl")], rel_parts[0]
    if len(rel_parts) >= 4 and rel_parts[-2] == "subagents":
        return rel_parts[-3], "/".join(rel_parts[:-3]) or "Unknown Project"
    sid = rel_parts[-2] if len(rel_parts) >= 2 else "unknown"
    return sid, "/".join(rel_parts[:-2]) if len(rel_parts) > 2 else "Unknown Project"


def has_rejected_null(obj):
    if isinstance(obj, dict):
        return any((k in NULL_REJECT and v is None) or has_rejected_null(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(has_rejected_null(v) for v in obj)
    return False


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def parse_ts(s):
    if not isinstance(s, str):
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def usage_entry(top, msg_holder, *, direct):
    """Builds a usage entry from `msg_holder` (the object carrying timestamp,
    message, requestId, isSidechain) or returns None when ccusage would skip it."""
    if not isinstance(msg_holder, dict):
        return None
    msg = msg_holder.get("message")
    if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict):
        return None
    u = msg["usage"]
    if not (is_uint(u.get("input_tokens")) and is_uint(u.get("output_tokens"))):
        return None
    ts = parse_ts(msg_holder.get("timestamp"))
    if ts is None:
        return None
    if direct:
        v = top.get("version")
        if v is not None and not SEMVER_PREFIX.match(v):
            return None
        if top.get("sessionId") == "":
            return None
    if msg_holder.get("requestId") == "" or msg.get("id") == "" or msg.get("model") == "":
        return None
    cc = u.get("cache_creation")
    if isinstance(cc, dict):
        cc5 = cc.get("ephemeral_5m_input_tokens", 0)
        cc1 = cc.get("ephemeral_1h_input_tokens", 0)
    else:
        cc5, cc1 = u.get("cache_creation_input_tokens", 0), 0
    model = msg.get("model")
    return {
        "message_id": msg.get("id"), "request_id": msg_holder.get("requestId"),
        "sidechain": msg_holder.get("isSidechain") is True,
        "timestamp": ts, "model": None if model == "<synthetic>" else model,
        "input": u["input_tokens"], "output": u["output_tokens"],
        "cc5": cc5, "cc1": cc1, "cache_read": u.get("cache_read_input_tokens", 0),
        "speed": u.get("speed"),
    }


def total(e):
    return e["input"] + e["output"] + e["cc5"] + e["cc1"] + e["cache_read"]


def should_replace(cand, cur, speed_tiebreak):
    if cand["sidechain"] != cur["sidechain"]:
        return cur["sidechain"]            # a non-sidechain copy beats a sidechain copy
    if total(cand) != total(cur):
        return total(cand) > total(cur)   # then the larger token total
    # then (session rule only) the copy that has usage.speed; otherwise the first seen
    return speed_tiebreak and cand["speed"] is not None and cur["speed"] is None


def dedup(entries, rule):
    """ccusage 20.0.24 de-duplication, as observed (see tests/fixtures/expected/README.md).

    rule "session" (session/monthly/weekly/blocks reports): key = (message.id,
      requestId or none); entries without message.id are never merged.
    rule "daily" (daily report): key = (message.id, requestId) when both are
      present; otherwise, or when no entry has that key, an entry with the same
      message.id matches if either of the two is a sidechain line (the /btw
      replay rule); entries without requestId that match nothing are kept as is.
    Both: a match is replaced by a non-sidechain copy over a sidechain one, then
    by a larger token total, then (session only) by a copy with usage.speed.
    """
    kept = []
    by_mid = {}
    for e in entries:
        mid, rid = e["message_id"], e["request_id"]
        idx = None
        if mid is not None:
            cands = by_mid.get(mid, [])
            if rule == "session" or rid is not None:
                idx = next((i for i in cands if kept[i]["message_id"] == mid
                            and kept[i]["request_id"] == rid), None)
            if idx is None and rule == "daily":
                idx = next((i for i in cands if kept[i]["message_id"] == mid
                            and (e["sidechain"] or kept[i]["sidechain"])), None)
        if idx is not None:
            if should_replace(e, kept[idx], speed_tiebreak=(rule == "session")):
                kept[idx] = e
            continue
        kept.append(e)
        if mid is not None:
            by_mid.setdefault(mid, []).append(len(kept) - 1)
    return kept


# ---------------------------------------------------------------------------
def load_prices():
    return json.loads(PRICES.read_text())


def tiered(n, base, above):
    if n <= TIER or above is None:
        return n * base
    return TIER * base + (n - TIER) * above


def cost_of(e, prices):
    p = prices["models"].get(e["model"]) if e["model"] else None
    if p is None:
        return 0.0
    inp = p["input_cost_per_token"]
    inp_above = p.get("input_cost_per_token_above_200k_tokens")
    c = (tiered(e["input"], inp, inp_above)
         + tiered(e["output"], p["output_cost_per_token"], p.get("output_cost_per_token_above_200k_tokens"))
         + tiered(e["cc5"], p["cache_creation_input_token_cost"],
                  p.get("cache_creation_input_token_cost_above_200k_tokens"))
         + tiered(e["cc1"], 2 * inp, 2 * inp_above if inp_above is not None else None)
         + tiered(e["cache_read"], p["cache_read_input_token_cost"],
                  p.get("cache_read_input_token_cost_above_200k_tokens")))
    if e["speed"] == "fast":
        c *= p.get("fast_multiplier", 1.0)
    return c


def iso_ms(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def aggregate(entries, prices):
    agg = {"input_tokens": 0, "output_tokens": 0, "cache_creation_tokens": 0, "cache_read_tokens": 0,
           "cost_usd": 0.0, "models": {}}
    for e in entries:
        agg["input_tokens"] += e["input"]
        agg["output_tokens"] += e["output"]
        agg["cache_creation_tokens"] += e["cc5"] + e["cc1"]
        agg["cache_read_tokens"] += e["cache_read"]
        c = cost_of(e, prices)
        agg["cost_usd"] += c
        if e["model"]:
            m = agg["models"].setdefault(e["model"], {"input_tokens": 0, "output_tokens": 0,
                                                      "cache_creation_tokens": 0, "cache_read_tokens": 0,
                                                      "cost_usd": 0.0})
            m["input_tokens"] += e["input"]
            m["output_tokens"] += e["output"]
            m["cache_creation_tokens"] += e["cc5"] + e["cc1"]
            m["cache_read_tokens"] += e["cache_read"]
            m["cost_usd"] += c
    agg["total_tokens"] = (agg["input_tokens"] + agg["output_tokens"] + agg["cache_creation_tokens"]
                           + agg["cache_read_tokens"])
    return agg


def compare_row(where, mine, theirs):
    for k_mine, k_theirs in (("input_tokens", "inputTokens"), ("output_tokens", "outputTokens"),
                             ("cache_creation_tokens", "cacheCreationTokens"),
                             ("cache_read_tokens", "cacheReadTokens"), ("total_tokens", "totalTokens")):
        check(mine[k_mine] == theirs[k_theirs],
              f"{where}: {k_mine} {mine[k_mine]} != ccusage {theirs[k_theirs]}")
    check(abs(mine["cost_usd"] - theirs["totalCost"]) <= COST_TOLERANCE,
          f"{where}: cost {mine['cost_usd']!r} != ccusage {theirs['totalCost']!r}")
    check(sorted(mine["models"]) == sorted(theirs["modelsUsed"]),
          f"{where}: models {sorted(mine['models'])} != ccusage {sorted(theirs['modelsUsed'])}")
    theirs_b = {b["modelName"]: b for b in theirs.get("modelBreakdowns", [])}
    for model, m in mine["models"].items():
        b = theirs_b.get(model)
        if b is None:
            check(False, f"{where}: no ccusage breakdown for {model}")
            continue
        check(m["input_tokens"] == b["inputTokens"] and m["output_tokens"] == b["outputTokens"]
              and m["cache_creation_tokens"] == b["cacheCreationTokens"]
              and m["cache_read_tokens"] == b["cacheReadTokens"],
              f"{where}/{model}: token breakdown differs from ccusage")
        check(abs(m["cost_usd"] - b["cost"]) <= COST_TOLERANCE,
              f"{where}/{model}: cost {m['cost_usd']!r} != ccusage {b['cost']!r}")


def check_bad(prices):
    """tests/fixtures/bad: lines that are not UTF-8 JSON objects are skipped, the rest is
    counted as usual; compare with ccusage's output on the same directory."""
    root = FIX / "bad" / "projects"
    entries = []
    for path in sorted(root.rglob("*.jsonl"), key=str):
        sid, project = session_of(path.relative_to(root).parts)
        for line in path.read_bytes().split(b"\n"):   # a last line without '\n' still counts
            if b'"usage":{' not in line:
                continue
            try:
                obj = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if not isinstance(obj, dict) or has_rejected_null(obj):
                continue
            e = usage_entry(obj, obj, direct=True)
            if e is not None:
                e["session"] = sid
                entries.append(e)
    kept = dedup(entries, "session")
    theirs = {r["sessionId"]: r for r in
              json.loads((EXPECTED / "ccusage-bad-session.json").read_text())["sessions"]}
    mine = {}
    for e in kept:
        mine.setdefault(e["session"], []).append(e)
    check(set(mine) == set(theirs), f"bad: sessions {sorted(mine)} != ccusage {sorted(theirs)}")
    for sid in sorted(set(mine) & set(theirs)):
        compare_row(f"bad/{sid}", aggregate(mine[sid], prices), theirs[sid])


def main():
    prices = load_prices()
    files = sorted(PROJECTS.rglob("*.jsonl"), key=lambda p: str(p))
    file_lines = {}
    sessions = {}
    session_entries = []   # in ccusage's processing order (path-sorted files, line order)
    daily_entries = []
    total_lines = 0

    for path in files:
        rel = path.relative_to(FIX).as_posix()
        parts = path.relative_to(PROJECTS).parts
        sid, project = session_of(parts)
        raw = path.read_bytes()
        check(raw.endswith(b"\n"), f"{rel}: last line not newline-terminated")
        lines = raw.split(b"\n")[:-1]
        file_lines[rel] = len(lines)
        total_lines += len(lines)
        s = sessions.setdefault(sid, {"project": project, "files": [], "lines": 0, "tool_use": set(),
                                      "tool_result": set(), "usage_lines": 0, "error_results": 0,
                                      "line_types": {}})
        s["files"].append(rel)
        s["lines"] += len(lines)
        for n, line in enumerate(lines, 1):
            where = f"{rel}:{n}"
            try:
                obj = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                check(False, f"{where}: not valid JSON ({exc})")
                continue
            check(isinstance(obj, dict), f"{where}: not a JSON object")
            check(b"\r" not in line, f"{where}: CR in line")
            ltype = obj.get("type")
            s["line_types"][ltype] = s["line_types"].get(ltype, 0) + 1
            msg = obj.get("message")
            if isinstance(msg, dict) and isinstance(msg.get("content"), list):
                for b in msg["content"]:
                    if b.get("type") == "tool_use" and ltype == "assistant":
                        s["tool_use"].add(b["id"])
                    elif b.get("type") == "tool_result":
                        s["tool_result"].add(b["tool_use_id"])
                        s["error_results"] += b.get("is_error") is True
            if isinstance(msg, dict) and "usage" in msg:
                s["usage_lines"] += 1
            # --- ccusage 20 line filter ---
            if b'"usage":{' not in line or has_rejected_null(obj):
                continue
            e = usage_entry(obj, obj, direct=True)
            if e is not None:
                e["session"], e["project"] = sid, project
                session_entries.append(e)
                daily_entries.append(e)
                continue
            # `daily` (not `session`) also reads usage embedded in agent_progress lines
            data = obj.get("data")
            e = usage_entry(obj, data.get("message") if isinstance(data, dict) else None, direct=False)
            if e is not None:
                e["session"], e["project"] = sid, project
                daily_entries.append(e)

    kept = dedup(session_entries, "session")
    kept_daily = dedup(daily_entries, "daily")

    # ---- per session ----
    out_sessions = {}
    for sid, s in sorted(sessions.items()):
        es = [e for e in kept if e["session"] == sid]
        agg = aggregate(es, prices)
        check(s["tool_use"] <= s["tool_result"],
              f"session {sid}: tool_use without tool_result: {sorted(s['tool_use'] - s['tool_result'])}")
        row = {"project": s["project"], "files": s["files"], "lines": s["lines"],
               "line_types": dict(sorted(s["line_types"].items(), key=lambda kv: str(kv[0]))),
               "tool_use_ids": len(s["tool_use"]), "tool_result_ids": len(s["tool_result"]),
               "error_tool_results": s["error_results"],
               "lines_with_usage": s["usage_lines"], "kept_usage_entries": len(es),
               "input_tokens": agg["input_tokens"], "output_tokens": agg["output_tokens"],
               "cache_creation_tokens": agg["cache_creation_tokens"],
               "cache_read_tokens": agg["cache_read_tokens"], "total_tokens": agg["total_tokens"],
               "cost_usd": round(agg["cost_usd"], 10),
               "first_activity": iso_ms(min(e["timestamp"] for e in es)) if es else None,
               "last_activity": iso_ms(max(e["timestamp"] for e in es)) if es else None,
               "models": {m: dict(v, cost_usd=round(v["cost_usd"], 10)) for m, v in agg["models"].items()}}
        ed = [e for e in kept_daily if e["session"] == sid]
        aggd = aggregate(ed, prices)
        row["daily_rule"] = {k: (round(v, 10) if k == "cost_usd" else v) for k, v in aggd.items()
                             if k != "models"}
        row["daily_rule"]["kept_usage_entries"] = len(ed)
        row["_agg"] = agg
        out_sessions[sid] = row

    # ---- per day (UTC) ----
    out_daily = {}
    for day in sorted({e["timestamp"].strftime("%Y-%m-%d") for e in kept_daily}):
        agg = aggregate([e for e in kept_daily if e["timestamp"].strftime("%Y-%m-%d") == day], prices)
        out_daily[day] = agg

    # ---- compare with ccusage ----
    cc_sessions = json.loads((EXPECTED / "ccusage-session.json").read_text())
    cc_daily = json.loads((EXPECTED / "ccusage-daily.json").read_text())
    theirs = {r["sessionId"]: r for r in cc_sessions["sessions"]}
    with_usage = {sid for sid, r in out_sessions.items() if r["kept_usage_entries"]}
    check(set(theirs) == with_usage,
          f"session set differs: mine {sorted(with_usage)} ccusage {sorted(theirs)}")
    for sid in sorted(with_usage & set(theirs)):
        r, t = out_sessions[sid], theirs[sid]
        compare_row(f"session {sid}", r["_agg"], t)
        check(r["project"] == t["projectPath"], f"session {sid}: project {r['project']} != {t['projectPath']}")
        check(r["first_activity"] == t["firstActivity"] and r["last_activity"] == t["lastActivity"],
              f"session {sid}: activity {r['first_activity']}..{r['last_activity']} != "
              f"{t['firstActivity']}..{t['lastActivity']}")
    theirs_d = {r["date"]: r for r in cc_daily["daily"]}
    check(set(theirs_d) == set(out_daily), f"day set differs: {sorted(out_daily)} vs {sorted(theirs_d)}")
    for day in sorted(set(theirs_d) & set(out_daily)):
        compare_row(f"day {day}", out_daily[day], theirs_d[day])
    tot = aggregate(kept, prices)
    compare_row("totals(session)", dict(tot, models={}), dict(cc_sessions["totals"], modelsUsed=[]))
    tot_d = aggregate(kept_daily, prices)
    compare_row("totals(daily)", dict(tot_d, models={}), dict(cc_daily["totals"], modelsUsed=[]))

    # ---- tests/fixtures/bad: only the good lines count ----
    check_bad(prices)

    # ---- lines.json ----
    for r in out_sessions.values():
        del r["_agg"]
    doc = {
        "generated_by": "tests/ccusage/ground_truth.py",
        "rules": "ccusage 20 (TRANSCRIPT-FORMAT.md section 4), prices common/model_prices.json",
        "price_table_version": prices["version"],
        "total_lines": total_lines,
        "files": file_lines,
        "sessions": out_sessions,
        "daily_utc": {d: {k: (round(v, 10) if k == "cost_usd" else v) for k, v in a.items() if k != "models"}
                      for d, a in out_daily.items()},
        "totals": {k: (round(v, 10) if k == "cost_usd" else v) for k, v in tot.items() if k != "models"},
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    target = EXPECTED / "lines.json"
    if "--write" in sys.argv:
        target.write_text(text)
    else:
        check(target.exists() and target.read_text() == text,
              "tests/fixtures/expected/lines.json is stale (run ground_truth.py --write)")

    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    print(f"ground_truth: {len(files)} files, {total_lines} lines, {len(out_sessions)} sessions, "
          f"{len(kept)} kept usage entries")
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
