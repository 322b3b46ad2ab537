"""test_api.py - obs-api against the real PostgreSQL: exact session lists,
pagination (also while sessions are inserted), filters, auth, tenant
isolation, bad input, timeline routes, usage, readiness, metrics, OpenAPI
conformance and graceful shutdown. Its own database: obs_api_it_<pid>."""
import json
import os
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apitest as at  # noqa: E402

R = at.Reporter()
SPEC = at.load_spec()
DB = "obs_api_it_%d" % os.getpid()


def q(s):
    return "NULL" if s is None else "'" + str(s).replace("'", "''") + "'"


# ---- fixture data --------------------------------------------------------------------
# Sessions: (tenant, id, project, first_event_at, usage rows [(model, in, out, cc, cr, cost)])
SESSIONS = []
USAGE = {}
for i in range(12):
    day = 1 + i // 3  # 4 days, three sessions a day
    first = "2025-03-%02dT%02d:00:00.250000+00" % (day, 8 + (i % 3))
    proj = "/srv/alpha" if i % 2 == 0 else "/srv/beta project"
    sid = "a-%02d" % i
    rows = [("claude-sonnet-4", 100 + i, 10 * i, 5, 1000 + i, "0.%06d123" % (i + 1)),
            ("claude-opus-4" if i % 3 == 0 else None, 7, 3, 0, 0, "0.000000001"),
            ("<synthetic>", 0, 0, 0, 0, "0")]
    SESSIONS.append(("A", sid, proj, first))
    USAGE[("A", sid)] = rows
# Two sessions with the same first_event_at: the order falls back to session_id.
SESSIONS.append(("A", "a-tie-1", "/srv/alpha", "2025-03-02T08:00:00.250000+00"))
SESSIONS.append(("A", "a-tie-2", "/srv/alpha", "2025-03-02T08:00:00.250000+00"))
USAGE[("A", "a-tie-1")] = []
USAGE[("A", "a-tie-2")] = [("claude-haiku", 1, 1, 1, 1, "1.5")]
# Tenant B: its own sessions, one with an id that tenant A also has.
SESSIONS.append(("B", "b-1", "/home/b", "2025-03-03T10:00:00+00"))
SESSIONS.append(("B", "a-03", "/home/b-secret", "2025-03-05T10:00:00+00"))
USAGE[("B", "b-1")] = [("claude-b", 1, 2, 3, 4, "9.99")]
USAGE[("B", "a-03")] = [("claude-b", 50, 50, 0, 0, "2")]


def iso(ts):
    """'2025-03-01T08:00:00.250000+00' -> '2025-03-01T08:00:00.250Z'."""
    return ts[:23] + "Z" if "." in ts else ts[:19] + ".000Z"


def expected(tenant, sid):
    t, s, proj, first = next(x for x in SESSIONS if x[0] == tenant and x[1] == sid)
    rows = USAGE[(tenant, sid)]
    inp = sum(r[1] for r in rows)
    out = sum(r[2] for r in rows)
    cc = sum(r[3] for r in rows)
    cr = sum(r[4] for r in rows)
    return {
        "session_id": sid, "project": proj, "cwd": proj + "/sub", "host": "host-" + tenant, "user": "user-" + sid,
        "git_branch": "main", "title": "Title " + sid, "first_event_at": iso(first),
        "last_event_at": iso(first.replace("T0", "T1", 1)) if "T0" in first else iso(first),
        "events": 10 + len(rows), "input_tokens": inp, "output_tokens": out, "cache_creation_tokens": cc,
        "cache_read_tokens": cr, "total_tokens": inp + out + cc + cr,
        "cost_usd": sum((Decimal(r[5]) for r in rows), Decimal(0)),
        "models": sorted({r[0] for r in rows if r[0] and r[0] != "<synthetic>"}),
    }


def session_sql(tenant, sid, proj, first):
    last = first.replace("T0", "T1", 1) if "T0" in first else first
    n = len(USAGE.get((tenant, sid), []))
    return ("INSERT INTO sessions (tenant, session_id, project, cwd, git_branch, host, os_user, title, first_event_at,"
            " last_event_at, events) VALUES (%s,%s,%s,%s,'main',%s,%s,%s,%s,%s,%d);"
            % (q(tenant), q(sid), q(proj), q(proj + "/sub"), q("host-" + tenant), q("user-" + sid),
               q("Title " + sid), q(first), q(last), 10 + n))


def rollup_sql(tenant, sid, proj, first):
    """The roll-ups obs-worker keeps (migrations/0004): session columns and daily_usage."""
    rows = USAGE.get((tenant, sid), [])
    e = expected_sums(rows)
    out = ["UPDATE sessions SET input_tokens = %d, output_tokens = %d, cache_creation_tokens = %d,"
           " cache_read_tokens = %d, total_tokens = %d, cost_usd = %s, models = %s, assistant_messages = %d"
           " WHERE tenant = %s AND session_id = %s;"
           % (e[0], e[1], e[2], e[3], sum(e[:4]), e[4],
              "ARRAY[%s]::text[]" % ",".join(q(m) for m in e[5]), len(rows), q(tenant), q(sid))]
    for (model, i, o, cc, cr, cost) in rows:
        out.append("INSERT INTO daily_usage AS d (tenant, day, project, model, os_user, host, messages, input_tokens,"
                   " output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd) VALUES (%s, %s::date, %s, %s,"
                   " 'u', 'h', 1, %d, %d, %d, %d, %s) ON CONFLICT (tenant, day, project, model, os_user, host) DO"
                   " UPDATE SET messages = d.messages + 1, input_tokens = d.input_tokens + excluded.input_tokens,"
                   " output_tokens = d.output_tokens + excluded.output_tokens, cache_creation_tokens ="
                   " d.cache_creation_tokens + excluded.cache_creation_tokens, cache_read_tokens ="
                   " d.cache_read_tokens + excluded.cache_read_tokens, cost_usd = d.cost_usd + excluded.cost_usd;"
                   % (q(tenant), q(first[:10]), q(proj), q(model or ""), i, o, cc, cr, cost))
    return "\n".join(out)


def expected_sums(rows):
    return (sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows),
            sum((Decimal(r[5]) for r in rows), Decimal(0)),
            sorted({r[0] for r in rows if r[0] and r[0] != "<synthetic>"}))


def seed_sql():
    out = []
    for (t, s, p, f) in SESSIONS:
        out.append(session_sql(t, s, p, f))
        out.append(rollup_sql(t, s, p, f))
        for k, (model, i, o, cc, cr, cost) in enumerate(USAGE[(t, s)]):
            out.append("INSERT INTO message_usage (tenant, usage_key, message_id, request_id, session_id, event_id,"
                       " event_time, model, project, os_user, host, input_tokens, output_tokens,"
                       " cache_creation_tokens, cache_read_tokens, cost_usd) VALUES (%s,%s,%s,'r',%s,%s,"
                       "%s::timestamptz + interval '%d minutes',%s,%s,'u','h',%d,%d,%d,%d,%s);"
                       % (q(t), q("%s-m%d:r" % (s, k)), q("%s-m%d" % (s, k)), q(s), q("%s-e%d" % (s, k)), q(f), k,
                          q(model), q(p), i, o, cc, cr, cost))
    # A timeline for a-00: five events (two share a time) and three tool calls.
    for k in range(5):
        out.append("INSERT INTO events (tenant, event_id, event_time, session_id, host, os_user, source_path, file_id,"
                   " source_offset, type, text_content, observed_time, model) VALUES ('A', %s,"
                   " '2025-03-01T08:00:0%d+00', 'a-00', 'h', 'u', '/x.jsonl', 'f', %d, %s, %s, now(), NULL);"
                   % (q("ev%02d" % k), min(k, 3), k * 100, q("user" if k % 2 == 0 else "assistant"), q("text %d" % k)))
    for k, (name, dur, err) in enumerate([("Bash", 120, False), ("Read", 5, False), ("Bash", 300, True)]):
        out.append("INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name,"
                   " tool_category, input_summary, result_time, duration_ms, is_error) VALUES ('A', %s,"
                   " '2025-03-01T08:00:0%d+00', 'a-00', %s, %s, 'shell', 'ls', '2025-03-01T08:00:09+00', %d, %s);"
                   % (q("tu%d" % k), k, q("ev%02d" % k), q(name), dur, "true" if err else "false"))
    return "\n".join(out)


def sort_key(e):
    return (e["first_event_at"], e["session_id"])


def norm(s):
    """Response session with cost as Decimal for exact comparison."""
    s = dict(s)
    s["cost_usd"] = Decimal(str(s["cost_usd"]))
    return s


SCHEMA_BAD = []


def call(api, template, path, key=None, **kw):
    """Request and validate the JSON body against the OpenAPI response schema."""
    st, hd, body, js = api.request(path, key=key, **kw)
    if template:
        sch = at.response_schema(SPEC, template, st)
        if sch is None:
            SCHEMA_BAD.append("%s %s: status %d not documented" % (template, path, st))
        else:
            errs = at.validate(SPEC, sch, js)
            if errs:
                SCHEMA_BAD.append("%s %s %d: %s" % (template, path, st, errs[:3]))
    return st, hd, body, js


def walk(api, key, params, limit):
    """Follow next_cursor; list of pages (lists of sessions)."""
    pages, cursor = [], None
    for _ in range(100):
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key, params=p)
        if st != 200:
            R.check(False, "page fetch returns 200", body)
            return pages
        pages.append(js["sessions"])
        cursor = js["next_cursor"]
        if not cursor:
            break
    return pages


def main():
    url = at.fresh_db(DB)
    at.psql(url, seed_sql())
    key_a, _ = at.create_key(url, "A")
    key_b, _ = at.create_key(url, "B")
    key_rev, rev_id = at.create_key(url, "A")
    at.revoke_key(url, rev_id)
    at.psql(url, "INSERT INTO api_keys (tenant, name, key_hash, key_prefix, expires_at) VALUES ('A', 'old',"
                 " sha256(convert_to('obs_expired_key', 'UTF8')), 'obs_expired', now() - interval '1 day')")
    api = at.Api(url)
    try:
        run(api, url, key_a, key_b, key_rev)
    finally:
        code = api.stop()
        R.check(code == 0, "SIGTERM: obs-api exits 0 after a graceful stop", code)
        log = api.logtext()
        R.check('"ctx":"access"' in log and '"request_id":"it-req-1"' in log,
                "access log has JSON lines with the honoured request id")
        bad = [l for l in log.splitlines() if l.strip() and not l.startswith("{")]
        R.check(not bad, "every log line is JSON", bad[:3])
        at.drop_db(DB)


def run(api, url, key_a, key_b, key_rev):
    # ---- health
    st, hd, _, js = call(api, "/healthz", "/healthz", headers={"X-Request-Id": "it-req-1"})
    R.check(st == 200 and js == {"status": "ok"}, "/healthz is 200 {\"status\":\"ok\"}", js)
    R.check(hd.get("X-Request-Id") == "it-req-1", "X-Request-Id is echoed back", hd.get("X-Request-Id"))
    st, hd, _, _ = api.request("/healthz")
    R.check(len(hd.get("X-Request-Id") or "") >= 8, "an X-Request-Id is generated when none is sent")
    st, _, _, js = call(api, "/readyz", "/readyz")
    R.check(st == 200 and js.get("status") == "ready", "/readyz is 200 on a migrated database", js)

    # ---- auth
    st, hd, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions")
    R.check(st == 401 and js["error"]["code"] == "unauthorized", "401 JSON without a key", js)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key="obs_not_a_real_key")
    R.check(st == 401, "401 with an unknown key", js)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key=key_rev)
    R.check(st == 401, "401 with a revoked key", js)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key="obs_expired_key")
    R.check(st == 401, "401 with an expired key", js)
    st, _, _, js = api.request("/api/v1/sessions", headers={"Authorization": "Basic eDp5"})
    R.check(st == 401, "401 with a non-Bearer Authorization", js)
    st, _, _, _ = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/a-00")
    R.check(st == 401, "401 on the detail route without a key")

    # ---- the full list, exactly
    want_a = sorted((expected("A", s[1]) for s in SESSIONS if s[0] == "A"), key=sort_key, reverse=True)
    st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 500})
    got = [norm(s) for s in js["sessions"]] if st == 200 else []
    R.check(st == 200 and js["next_cursor"] is None, "list with limit=500 is one page", body[:300])
    R.check([s["session_id"] for s in got] == [s["session_id"] for s in want_a],
            "list order is first_event_at DESC, session_id DESC (ties included)",
            [s["session_id"] for s in got])
    R.check(got == want_a, "every session field matches (tokens, total, cost, models without <synthetic>)",
            next(((g, w) for g, w in zip(got, want_a) if g != w), None))
    R.check(list(js["sessions"][0].keys()) == ["session_id", "project", "cwd", "host", "user", "git_branch",
                                               "title", "first_event_at", "last_event_at", "events",
                                               "input_tokens", "output_tokens", "cache_creation_tokens",
                                               "cache_read_tokens", "total_tokens", "cost_usd", "models"],
            "SESSION has exactly the contract's fields in order")
    R.check(all(isinstance(s["cost_usd"], (int, float)) for s in js["sessions"]), "cost_usd is a JSON number")
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a)
    R.check(st == 200 and len(js["sessions"]) == 14 and js["next_cursor"] is None, "default limit 50 shows all 14")

    # ---- pagination
    for lim in (1, 3, 5, 13):
        pages = walk(api, key_a, {}, lim)
        ids = [s["session_id"] for p in pages for s in p]
        R.check(ids == [s["session_id"] for s in want_a] and all(len(p) <= lim for p in pages),
                "limit=%d: pages visit every session once, in order" % lim, ids)
    # Insert sessions between pages: one newer than everything (before the
    # cursor: not visited), one older than the cursor (visited once).
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 4})
    seen = [s["session_id"] for s in js["sessions"]]
    cursor = js["next_cursor"]
    at.psql(url, session_sql("A", "new-newest", "/srv/alpha", "2025-04-01T00:00:00+00") +
            session_sql("A", "new-oldest", "/srv/alpha", "2025-02-01T00:00:00+00") +
            session_sql("A", "a-10x", "/srv/alpha", "2025-03-04T09:00:00.250000+00"))
    USAGE[("A", "new-newest")] = USAGE[("A", "new-oldest")] = USAGE[("A", "a-10x")] = []
    while cursor:
        st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 4, "cursor": cursor})
        seen += [s["session_id"] for s in js["sessions"]]
        cursor = js["next_cursor"]
        if len(seen) > 100:
            break
    orig = [s["session_id"] for s in want_a]
    R.check(all(seen.count(s) == 1 for s in orig), "inserts between pages: every original session exactly once",
            seen)
    R.check(len(seen) == len(set(seen)), "inserts between pages: no session twice")
    R.check("new-oldest" in seen and "new-newest" not in seen,
            "inserts between pages: newer than the cursor skipped, older ones visited", seen)
    at.psql(url, "DELETE FROM sessions WHERE session_id IN ('new-newest', 'new-oldest', 'a-10x')")

    # ---- filters
    def ids_for(params):
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params=dict(params, limit=500))
        return [s["session_id"] for s in js["sessions"]] if st == 200 else body

    def want(pred):
        return [s["session_id"] for s in want_a if pred(s)]

    R.check(ids_for({"since": "2025-03-02T00:00:00Z"}) == want(lambda s: s["first_event_at"] >= "2025-03-02"),
            "since filters on first_event_at (inclusive)")
    R.check(ids_for({"until": "2025-03-02"}) == want(lambda s: s["first_event_at"] < "2025-03-02"),
            "until filters on first_event_at (date form)")
    R.check(ids_for({"since": "2025-03-02T08:00:00.250Z", "until": "2025-03-03T08:00:00.250Z"}) ==
            want(lambda s: "2025-03-02T08:00:00.250Z" <= s["first_event_at"] < "2025-03-03T08:00:00.250Z"),
            "since inclusive and until exclusive at exact instants")
    R.check(ids_for({"since": "2025-03-02T10:00:00+02:00"}) ==
            want(lambda s: s["first_event_at"] >= "2025-03-02T08:00:00.000Z"), "since with a +02:00 offset")
    R.check(ids_for({"project": "/srv/beta project"}) == want(lambda s: s["project"] == "/srv/beta project"),
            "project filter is exact (path with a space)")
    R.check(ids_for({"project": "/srv"}) == [], "project filter does not match prefixes")
    pages = walk(api, key_a, {"project": "/srv/alpha", "since": "2025-03-02"}, 2)
    R.check([s["session_id"] for p in pages for s in p] ==
            want(lambda s: s["project"] == "/srv/alpha" and s["first_event_at"] >= "2025-03-02"),
            "filters hold across pages")

    # ---- detail and tenant isolation
    st, _, _, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/a-05", key_a)
    R.check(st == 200 and norm(js["session"]) == expected("A", "a-05"), "detail returns {\"session\": SESSION}", js)
    st, _, _, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/nope", key_a)
    R.check(st == 404 and js["error"]["code"] == "not_found", "unknown session is 404 JSON", js)
    st, _, _, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/a-05", key_b)
    R.check(st == 404, "tenant B guessing tenant A's session id gets 404", js)
    st, _, _, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/a-03", key_b)
    R.check(st == 200 and js["session"]["project"] == "/home/b-secret" and
            norm(js["session"]) == expected("B", "a-03"), "an id both tenants have shows the caller's own row", js)
    st, _, _, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/a-03", key_a)
    R.check(st == 200 and norm(js["session"]) == expected("A", "a-03"), "... and tenant A sees its own", js)
    want_b = sorted((expected("B", s[1]) for s in SESSIONS if s[0] == "B"), key=sort_key, reverse=True)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_b)
    R.check(st == 200 and [norm(s) for s in js["sessions"]] == want_b, "tenant B lists only its own sessions", js)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 2})
    a_cursor = js["next_cursor"]
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_b, params={"cursor": a_cursor})
    R.check(st in (200, 400) and (st == 400 or all(s["session_id"] in ("b-1", "a-03") and
                                                    s["host"] == "host-B" for s in js["sessions"])),
            "tenant B with tenant A's cursor never sees A's data", js)
    st, _, _, js = call(api, "/api/v1/sessions/{id}/events", "/api/v1/sessions/a-00/events", key_b)
    R.check(st == 404, "tenant B cannot read tenant A's timeline", js)
    st, _, _, js = call(api, "/api/v1/usage", "/api/v1/usage", key_b, params={"group_by": "model"})
    R.check(st == 200 and [b["key"] for b in js["buckets"]] == ["claude-b"], "usage is tenant filtered", js)

    # ---- bad input: 400 with the field
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 2})
    good = js["next_cursor"]
    tampered = good[:5] + ("A" if good[5] != "A" else "B") + good[6:]
    cases = [({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
             ({"limit": ""}, "limit"), ({"since": "yesterday"}, "since"), ({"since": "2025-03-01T25:00:00Z"}, "since"),
             ({"until": "2025/03/01"}, "until"), ({"cursor": "garbage!"}, "cursor"), ({"cursor": tampered}, "cursor"),
             ({"cursor": good[:-4]}, "cursor"), ({"sort": "asc"}, "sort"), ({"tenant": "B"}, "tenant"),
             ({"since": "2025-03-05", "until": "2025-03-01"}, "until")]
    for params, field in cases:
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params=params)
        R.check(st == 400 and js and js["error"]["code"] == "bad_parameter" and js["error"].get("field") == field,
                "400 bad_parameter field=%s for %s" % (field, json.dumps(params)), body)
    for path, field in [("/api/v1/sessions?limit=1&limit=2", "limit"), ("/api/v1/sessions?project=%ZZ", "project")]:
        st, _, body, js = call(api, "/api/v1/sessions", path, key_a)
        R.check(st == 400 and js["error"].get("field") == field, "400 field=%s for %s" % (field, path), body)
    st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", params={"limit": "0"})
    R.check(st == 400, "bad parameters are reported before auth (no DB work)", body)
    st, _, body, js = call(api, "/api/v1/sessions/{id}/events", "/api/v1/sessions/a-00/events", key_a,
                           params={"cursor": good})
    R.check(st == 400 and js["error"]["field"] == "cursor", "a sessions cursor is rejected by the events list", body)
    st, _, body, js = call(api, "/api/v1/usage", "/api/v1/usage", key_a, params={"group_by": "month"})
    R.check(st == 400 and js["error"]["field"] == "group_by", "usage group_by=month is 400", body)
    st, _, body, js = api.request("/api/v1/nothing", key=key_a)
    R.check(st == 404 and js and js["error"]["code"] == "not_found", "unknown route is 404 JSON", body)
    st, _, body, js = api.request("/", key=key_a)
    R.check(st == 404 and js is not None, "/ is 404 JSON", body)
    st, hd, body, js = api.request("/api/v1/sessions", key=key_a, method="POST")
    R.check(st == 405 and js["error"]["code"] == "method_not_allowed" and "GET" in (hd.get("Allow") or ""),
            "POST is 405 JSON with Allow", body)
    st, _, body, js = api.request("/api/v1/sessions/a-00", key=key_a, method="DELETE")
    R.check(st == 405, "DELETE is 405", body)
    st, _, body, js = api.request("/api/v1/sessions/%2e%2e%2fetc", key=key_a)
    R.check(st in (404,) and js is not None, "encoded path tricks are a clean 404", body)
    long_id = "x" * 5000
    st, _, body, js = api.request("/api/v1/sessions/" + long_id, key=key_a)
    R.check(st in (404, 414, 400) and st != 500, "a 5000-byte id is refused cleanly (%d)" % st)
    st, _, body, _ = api.request("/api/v1/sessions", key=key_a, headers={"X-Big": "y" * 40000})
    R.check(st in (400, 413, 431) or st == 0, "oversized headers are refused (%d)" % st)

    # ---- timeline, tool calls, usage, tools
    evs, cursor = [], None
    for _ in range(10):
        p = {"limit": 2}
        if cursor:
            p["cursor"] = cursor
        st, _, body, js = call(api, "/api/v1/sessions/{id}/events", "/api/v1/sessions/a-00/events", key_a, params=p)
        if st != 200:
            break
        evs += js["events"]
        cursor = js["next_cursor"]
        if not cursor:
            break
    R.check([e["event_id"] for e in evs] == ["ev00", "ev01", "ev02", "ev03", "ev04"],
            "events: timeline in (event_time, event_id) order across pages of 2", [e["event_id"] for e in evs])
    R.check(evs and evs[0]["text"] == "text 0" and evs[0]["type"] == "user", "events carry type and text")
    st, _, body, js = call(api, "/api/v1/sessions/{id}/tool_calls", "/api/v1/sessions/a-00/tool_calls", key_a)
    R.check(st == 200 and [c["tool_use_id"] for c in js["tool_calls"]] == ["tu0", "tu1", "tu2"] and
            js["tool_calls"][2]["is_error"] is True and js["tool_calls"][0]["duration_ms"] == 120,
            "tool_calls in time order with duration and error", body)
    st, _, body, js = call(api, "/api/v1/sessions/{id}/events", "/api/v1/sessions/nope/events", key_a)
    R.check(st == 404, "events of an unknown session is 404", body)
    st, _, body, js = call(api, "/api/v1/tools", "/api/v1/tools", key_a)
    R.check(st == 200 and js["tools"][0]["tool_name"] == "Bash" and js["tools"][0]["calls"] == 2 and
            js["tools"][0]["errors"] == 1 and js["tools"][0]["avg_duration_ms"] == 210, "tools statistics", body)
    st, _, body, js = call(api, "/api/v1/usage", "/api/v1/usage", key_a, params={"group_by": "day"})
    rows_a = [(s[3][:10], r) for s in SESSIONS if s[0] == "A" for r in USAGE[("A", s[1])]]
    days = sorted({d for d, _ in rows_a})
    want_days = [(d, sum(r[1] + r[2] + r[3] + r[4] for dd, r in rows_a if dd == d),
                  sum((Decimal(r[5]) for dd, r in rows_a if dd == d), Decimal(0))) for d in days]
    got_days = [(b["key"], b["total_tokens"], Decimal(str(b["cost_usd"]))) for b in js["buckets"]] if st == 200 else []
    R.check(got_days == want_days, "usage by day: total tokens and exact cost per UTC day", (got_days, want_days))
    st, _, body, js = call(api, "/api/v1/usage", "/api/v1/usage", key_a,
                           params={"group_by": "project", "since": "2025-03-02", "until": "2025-03-03"})
    R.check(st == 200 and [b["key"] for b in js["buckets"]] == ["/srv/alpha", "/srv/beta project"],
            "usage by project with a time window", body)

    # ---- metrics
    st, hd, text, _ = api.request("/metrics")
    R.check(st == 200 and 'observatory_api_requests_total{route="/api/v1/sessions",status="200"}' in text and
            'observatory_api_requests_total{route="/api/v1/sessions",status="400"}' in text and
            "observatory_api_request_seconds_bucket" in text and "observatory_api_db_up 1" in text,
            "/metrics has request counters, latency histogram and db_up", text[:400])

    # ---- concurrency: many clients at once
    results = []

    def worker():
        for _ in range(10):
            results.append(api.request("/api/v1/sessions", key=key_a, params={"limit": 3})[0])

    ths = [threading.Thread(target=worker) for _ in range(16)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    R.check(len(results) == 160 and all(s == 200 for s in results), "160 concurrent requests all 200",
            {s: results.count(s) for s in set(results)})

    # ---- readiness follows the schema version
    at.psql(url, "UPDATE schema_migrations SET version = version - 100000")
    st, _, body, js = call(api, "/readyz", "/readyz")
    R.check(st == 503 and "need" in js.get("reason", ""), "/readyz 503 when the schema is older", body)
    at.psql(url, "UPDATE schema_migrations SET version = version + 100000")
    at.psql(url, "ALTER TABLE schema_migrations RENAME TO schema_migrations_x")
    st, _, body, js = call(api, "/readyz", "/readyz")
    R.check(st == 503 and js and js["status"] == "unavailable", "/readyz 503 when schema_migrations is missing", body)
    at.psql(url, "ALTER TABLE schema_migrations_x RENAME TO schema_migrations")
    st, _, body, _ = call(api, "/readyz", "/readyz")
    R.check(st == 200, "/readyz 200 again once the schema is back", body)

    R.check(not SCHEMA_BAD, "every JSON response validates against api/openapi.yaml", SCHEMA_BAD[:5])


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, never hang
        import traceback
        traceback.print_exc()
        R.check(False, "test ran to completion", e)
    R.end()
