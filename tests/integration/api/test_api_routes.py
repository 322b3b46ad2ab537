"""test_api_routes.py - obs-api routes over the roll-ups (migrations/0004)
against the real PostgreSQL: session list sorts with their own cursors and
the extra filters, session detail roll-ups, usage groupings and time zones,
tool statistics, projects, users, insights, search, tenant isolation of
every one of them, OpenAPI conformance, and the per-key rate limit (429 +
Retry-After). Roll-up rows are inserted directly (the worker's job). Its
own database: obs_api_routes_<pid>."""
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apitest as at  # noqa: E402

R = at.Reporter()
SPEC = at.load_spec()
DB = "obs_api_routes_%d" % os.getpid()
SCHEMA_BAD = []


def q(s):
    return "NULL" if s is None else "'" + str(s).replace("'", "''") + "'"


# (tenant, id, project, user, host, branch, first, minutes, total_tokens, cost, models, has_errors, insights)
SESS = []
for i in range(10):
    SESS.append(("A", "s%02d" % i, "/p/%s" % ("x" if i % 2 else "y"), "u%d" % (i % 3), "h%d" % (i % 2),
                 "main" if i % 4 else "dev", "2025-05-%02dT%02d:00:00+00" % (1 + i % 5, 6 + i), 10 + (i * 7) % 23,
                 1000 * ((i * 3) % 7) + i, "%d.%03d" % (i % 4, i), ["m-a"] if i % 3 else ["m-a", "m-b"],
                 i % 3 == 0, 1 if i in (2, 5) else 0))
SESS.append(("B", "s02", "/p/secret", "ub", "hb", "main", "2025-05-02T06:00:00+00", 5, 5, "99", ["m-secret"], True, 1))


def seed():
    out = []
    for (t, sid, p, u, h, br, first, mins, tok, cost, models, err, ins) in SESS:
        out.append("INSERT INTO sessions (tenant, session_id, project, cwd, git_branch, host, os_user, first_event_at,"
                   " last_event_at, events, total_tokens, input_tokens, cost_usd, models, has_errors, insights,"
                   " user_messages, assistant_messages, tool_calls, tool_errors, subagent_cost_usd) VALUES"
                   " (%s,%s,%s,%s,%s,%s,%s,%s,%s::timestamptz + interval '%d minutes',3,%d,%d,%s,ARRAY[%s]::text[],"
                   "%s,%d,4,5,3,1,0.5);"
                   % (q(t), q(sid), q(p), q(p), q(br), q(h), q(u), q(first), q(first), mins, tok, tok, cost,
                      ",".join(q(m) for m in models), "true" if err else "false", ins))
    # daily usage: tenant A two days x two models, B one row
    for (t, day, proj, model, user, host, n, inp, cost) in [
            ("A", "2025-05-01", "/p/x", "m-a", "u0", "h0", 2, 100, "1.5"),
            ("A", "2025-05-01", "/p/y", "m-b", "u1", "h1", 1, 10, "0.25"),
            ("A", "2025-05-06", "/p/x", "m-a", "u1", "h0", 3, 1000, "2"),
            ("B", "2025-05-01", "/p/secret", "m-secret", "ub", "hb", 9, 9, "9")]:
        out.append("INSERT INTO daily_usage (tenant, day, project, model, os_user, host, messages, input_tokens,"
                   " cost_usd) VALUES (%s,%s,%s,%s,%s,%s,%d,%d,%s);" % (q(t), q(day), q(proj), q(model), q(user),
                                                                        q(host), n, inp, cost))
    # message_usage for the tz path: 23:30 UTC on May 1 is May 2 in Berlin
    # (the last row is a sub-agent message of s00, event e3)
    for k, (t, ts, model, inp, cost) in enumerate([("A", "2025-05-01T23:30:00+00", "m-a", 7, "0.7"),
                                                  ("A", "2025-05-01T12:00:00+00", "m-a", 3, "0.3"),
                                                  ("B", "2025-05-01T12:00:00+00", "m-secret", 99, "9"),
                                                  ("A", "2025-05-01T06:01:00+00", "m-a", 5, "0.5")]):
        out.append("INSERT INTO message_usage (tenant, usage_key, message_id, session_id, event_id, event_time, model,"
                   " project, os_user, host, input_tokens, cost_usd, is_sidechain) VALUES (%s,%s,%s,'s00',%s,%s,%s,"
                   "'/p/y','u0','h0',%d,%s,%s);" % (q(t), q("k%d" % k), q("m%d" % k), q("e%d" % k), q(ts), q(model),
                                                    inp, cost, "true" if k == 3 else "false"))
    # events (for search and the sub-agent id) and tool calls of s00
    texts = [("A", "e0", "2025-05-01T23:30:00+00", "the flux capacitor needs plutonium", None),
             ("A", "e1", "2025-05-01T12:00:00+00", "plain words only", None),
             ("A", "e2", "2025-05-01T06:00:00+00", "Flux again and FLUX twice", None),
             ("A", "e3", "2025-05-01T06:01:00+00", "flux three", "agent-7"),
             ("B", "e9", "2025-05-01T06:00:00+00", "secret flux of tenant B", None)]
    for (t, eid, ts, text, agent) in texts:
        out.append("INSERT INTO events (tenant, event_id, event_time, session_id, host, os_user, source_path, file_id,"
                   " source_offset, type, text_content, observed_time, project, agent_id, is_sidechain) VALUES"
                   " (%s,%s,%s,'s00','h','u','/x','f',0,'user',%s,now(),%s,%s,%s);"
                   % (q(t), q(eid), q(ts), q(text), q("/p/y" if t == "A" else "/p/secret"), q(agent),
                      "true" if agent else "false"))
    for k, (name, dur, err) in enumerate([("Bash", 100, True), ("Bash", 300, False), ("Bash", 200, False),
                                          ("Read", 10, False)]):
        out.append("INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name,"
                   " duration_ms, is_error) VALUES ('A', %s, '2025-05-01T06:0%d:00+00', 's00', 'e2', %s, %d, %s);"
                   % (q("t%d" % k), k, q(name), dur, "true" if err else "false"))
    out.append("INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name, duration_ms,"
               " is_error) VALUES ('B', 'tb', '2025-05-02T06:00:00+00', 's02', 'e9', 'SecretTool', 1, false);")
    out.append("INSERT INTO session_files (tenant, session_id, path, action, count) VALUES ('A','s00','/a.c','read',2),"
               " ('A','s00','/a.c','edit',1), ('A','s00','/b.c','write',5), ('B','s02','/secret.c','read',1);")
    for (t, iid, sid, kind, sev, ts) in [("A", "i1", "s02", "cost_outlier", "warning", "2025-05-03T08:00:00+00"),
                                         ("A", "i2", "s05", "tool_error_loop", "critical", "2025-05-01T11:00:00+00"),
                                         ("A", "i3", "s00", "long_tool_call", "info", "2025-05-01T06:30:00+00"),
                                         ("B", "i9", "s02", "cost_outlier", "critical", "2025-05-02T07:00:00+00")]:
        out.append("INSERT INTO insights (tenant, insight_id, session_id, kind, severity, reason, details, event_time)"
                   " VALUES (%s,%s,%s,%s,%s,'because','{\"n\": 3}',%s);" % (q(t), q(iid), q(sid), q(kind), q(sev),
                                                                           q(ts)))
    return "\n".join(out)


def call(api, template, path, key=None, **kw):
    st, hd, body, js = api.request(path, key=key, **kw)
    sch = at.response_schema(SPEC, template, st)
    if sch is None:
        SCHEMA_BAD.append("%s %s: status %d not documented" % (template, path, st))
    else:
        errs = at.validate(SPEC, sch, js)
        if errs:
            SCHEMA_BAD.append("%s %s %d: %s" % (template, path, st, errs[:3]))
    return st, hd, body, js


def walk(api, key, route, name, params, limit):
    items, cursor = [], None
    for _ in range(50):
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        st, _, body, js = call(api, route, route, key, params=p)
        if st != 200:
            return body
        items += js[name]
        cursor = js["next_cursor"]
        if not cursor:
            break
    return items


def a_sessions(pred=lambda s: True):
    return [s for s in SESS if s[0] == "A" and pred(s)]


def run(api, key_a, key_b):
    import datetime

    def end(s):  # last = first + minutes
        return datetime.datetime.fromisoformat(s[6].replace("+00", "+00:00")) + datetime.timedelta(minutes=s[7])
    sorts = {"start": lambda s: (s[6], s[1]), "end": lambda s: (end(s), s[1]),
             "cost": lambda s: (Decimal(s[9]), s[1]), "tokens": lambda s: (s[8], s[1]),
             "duration": lambda s: (s[7], s[1])}
    for sort, keyf in sorts.items():
        want = [s[1] for s in sorted(a_sessions(), key=keyf, reverse=True)]
        for lim in (1, 3):
            got = walk(api, key_a, "/api/v1/sessions", "sessions", {"sort": sort}, lim)
            R.check([s["session_id"] for s in got] == want if isinstance(got, list) else False,
                    "sort=%s limit=%d: every session once, descending, ties by id" % (sort, lim), got)
    st, _, _, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"sort": "cost", "limit": 2})
    cost_cursor = js["next_cursor"]
    for other in ("tokens", "start", None):
        p = {"cursor": cost_cursor}
        if other:
            p["sort"] = other
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params=p)
        R.check(st == 400 and js["error"]["field"] == "cursor", "a sort=cost cursor is refused by sort=%s" % other,
                body)
    st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_b,
                           params={"sort": "cost", "cursor": cost_cursor})
    R.check(st == 200 and all(s["session_id"] == "s02" and s["project"] == "/p/secret" for s in js["sessions"]),
            "tenant B with tenant A's cost cursor sees only its own rows", body)

    def ids(params):
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params=dict(params, limit=500))
        return sorted(s["session_id"] for s in js["sessions"]) if st == 200 else body

    filters = [({"user": "u1"}, lambda s: s[3] == "u1"), ({"host": "h0"}, lambda s: s[4] == "h0"),
               ({"model": "m-b"}, lambda s: "m-b" in s[10]), ({"git_branch": "dev"}, lambda s: s[5] == "dev"),
               ({"min_cost": "2"}, lambda s: Decimal(s[9]) >= 2), ({"has_errors": "true"}, lambda s: s[11]),
               ({"has_errors": "false"}, lambda s: not s[11]), ({"has_insights": "true"}, lambda s: s[12] > 0),
               ({"user": "u0", "host": "h1", "sort": "tokens"}, lambda s: s[3] == "u0" and s[4] == "h1"),
               ({"model": "m-secret"}, lambda s: False)]
    for params, pred in filters:
        R.check(ids(params) == sorted(s[1] for s in a_sessions(pred)), "session filter %s" % params, ids(params))
    for params, field in [({"min_cost": "-1"}, "min_cost"), ({"has_errors": "maybe"}, "has_errors"),
                          ({"sort": "name"}, "sort"), ({"user": ""}, "user")]:
        st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params=params)
        R.check(st == 400 and js["error"]["field"] == field, "400 field=%s for %s" % (field, params), body)

    # ---- detail roll-ups
    st, _, body, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/s00", key_a)
    ru = js and js.get("rollups") or {}
    R.check(st == 200 and ru.get("tools") == [{"tool_name": "Bash", "calls": 3, "errors": 1},
                                              {"tool_name": "Read", "calls": 1, "errors": 0}],
            "detail: tool calls and errors by tool", ru.get("tools"))
    R.check(ru.get("files") == [{"path": "/b.c", "read": 0, "edit": 0, "write": 5},
                                {"path": "/a.c", "read": 2, "edit": 1, "write": 0}],
            "detail: files touched, most first", ru.get("files"))
    R.check([(a["agent_id"], a["messages"], a["input_tokens"]) for a in ru.get("subagents", [])] == [("agent-7", 1, 5)],
            "detail: sub-agents with their usage (agent id from events)", ru.get("subagents"))
    R.check([i["insight_id"] for i in ru.get("insights", [])] == ["i3"] and ru.get("user_messages") == 4 and
            ru.get("tool_calls") == 3 and ru.get("subagent_cost_usd") == 0.5, "detail: insights and counters", ru)
    st, _, body, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/s02", key_b)
    R.check(st == 200 and js["rollups"]["files"] == [{"path": "/secret.c", "read": 1, "edit": 0, "write": 0}] and
            [t["tool_name"] for t in js["rollups"]["tools"]] == ["SecretTool"],
            "detail roll-ups of a shared id are the caller's tenant's", body)
    st, _, body, js = call(api, "/api/v1/sessions/{id}", "/api/v1/sessions/s02", key_a)
    R.check(st == 200 and js["rollups"]["files"] == [] and js["rollups"]["tools"] == [] and
            [i["insight_id"] for i in js["rollups"]["insights"]] == ["i1"], "... and tenant A sees only its own", body)

    # ---- usage
    def usage(key, **params):
        st, _, body, js = call(api, "/api/v1/usage", "/api/v1/usage", key, params=params)
        return [(b["key"], b["input_tokens"], Decimal(str(b["cost_usd"]))) for b in js["buckets"]] if st == 200 \
            else body
    R.check(usage(key_a, group_by="day") == [("2025-05-01", 110, Decimal("1.75")), ("2025-05-06", 1000, Decimal(2))],
            "usage by UTC day from daily_usage", usage(key_a, group_by="day"))
    R.check(usage(key_a, group_by="week") == [("2025-04-28", 110, Decimal("1.75")), ("2025-05-05", 1000, Decimal(2))],
            "usage by week (Monday)", usage(key_a, group_by="week"))
    for g, want in [("project", [("/p/x", 1100, Decimal("3.5")), ("/p/y", 10, Decimal("0.25"))]),
                    ("model", [("m-a", 1100, Decimal("3.5")), ("m-b", 10, Decimal("0.25"))]),
                    ("user", [("u0", 100, Decimal("1.5")), ("u1", 1010, Decimal("2.25"))]),
                    ("host", [("h0", 1100, Decimal("3.5")), ("h1", 10, Decimal("0.25"))])]:
        R.check(usage(key_a, group_by=g) == want, "usage by %s" % g, usage(key_a, group_by=g))
    R.check(usage(key_a, group_by="day", since="2025-05-02") == [("2025-05-06", 1000, Decimal(2))],
            "usage since a date", usage(key_a, group_by="day", since="2025-05-02"))
    R.check(usage(key_a, group_by="model", user="u1", host="h0") == [("m-a", 1000, Decimal(2))],
            "usage filtered by user and host", usage(key_a, group_by="model", user="u1", host="h0"))
    R.check(usage(key_a, group_by="day", tz="Europe/Berlin") == [("2025-05-01", 8, Decimal("0.8")),
                                                                 ("2025-05-02", 7, Decimal("0.7"))],
            "usage by day in Europe/Berlin (message_usage, local days)", usage(key_a, group_by="day", tz="Europe/Berlin"))
    R.check(usage(key_a, group_by="day", since="2025-05-01T13:00:00Z") == [("2025-05-01", 7, Decimal("0.7"))],
            "usage with a window not on UTC midnight counts exact instants",
            usage(key_a, group_by="day", since="2025-05-01T13:00:00Z"))
    R.check(usage(key_b, group_by="model") == [("m-secret", 9, Decimal(9))], "usage is tenant filtered",
            usage(key_b, group_by="model"))
    R.check(usage(key_b, group_by="day", tz="Asia/Tokyo") == [("2025-05-01", 99, Decimal(9))],
            "usage (tz path) is tenant filtered", usage(key_b, group_by="day", tz="Asia/Tokyo"))
    for params, field in [({"tz": "Mars/Olympus"}, "tz"), ({"tz": "../etc/passwd"}, "tz"),
                          ({"group_by": "month"}, "group_by")]:
        st, _, body, js = call(api, "/api/v1/usage", "/api/v1/usage", key_a, params=dict(params, group_by=params.get(
            "group_by", "day")))
        R.check(st == 400 and js["error"]["field"] == field, "usage 400 field=%s for %s" % (field, params), body)

    # ---- tools
    st, _, body, js = call(api, "/api/v1/tools", "/api/v1/tools", key_a)
    bash = js["tools"][0] if st == 200 else {}
    # p50/p95 come from the duration buckets (migrations/0041): within 4.5 % + 1 ms of
    # percentile_cont (200 and 290 ms exactly)
    R.check(bash.get("tool_name") == "Bash" and abs(bash.get("p50_duration_ms", 0) - 200) <= 0.0443 * 200 + 1 and
            abs(bash.get("p95_duration_ms", 0) - 290) <= 0.0443 * 290 + 1 and
            abs(bash.get("error_rate", 0) - 0.3333) < 1e-9 and bash.get("calls") == 3 and bash.get("errors") == 1 and
            bash.get("avg_duration_ms") == 200 and bash.get("sessions") == 1,
            "tools: p50, p95 (bucket estimate), error rate, calls, average", body)
    st, _, body, js = call(api, "/api/v1/tools", "/api/v1/tools", key_a, params={"user": "u0", "host": "h0"})
    R.check(st == 200 and [t["tool_name"] for t in js["tools"]] == ["Bash", "Read"], "tools by user and host", body)
    st, _, body, js = call(api, "/api/v1/tools", "/api/v1/tools", key_a, params={"user": "u1"})
    R.check(st == 200 and js["tools"] == [], "tools of another user: none", body)
    st, _, body, js = call(api, "/api/v1/tools", "/api/v1/tools", key_b)
    R.check(st == 200 and [t["tool_name"] for t in js["tools"]] == ["SecretTool"], "tools are tenant filtered", body)

    # ---- projects and users
    st, _, body, js = call(api, "/api/v1/projects", "/api/v1/projects", key_a)
    R.check(st == 200 and [(p["project"], p["sessions"]) for p in js["projects"]] == [("/p/x", 5), ("/p/y", 5)],
            "projects with session counts", body)
    st, _, body, js = call(api, "/api/v1/projects", "/api/v1/projects", key_a, params={"since": "2025-05-05"})
    R.check(st == 200 and sum(p["sessions"] for p in js["projects"]) == 2, "projects since a date", body)
    st, _, body, js = call(api, "/api/v1/users", "/api/v1/users", key_a)
    R.check(st == 200 and [(u["user"], u["sessions"]) for u in js["users"]] == [("u0", 4), ("u1", 3), ("u2", 3)],
            "users with session counts", body)
    st, _, body, js = call(api, "/api/v1/projects", "/api/v1/projects", key_b)
    R.check(st == 200 and [p["project"] for p in js["projects"]] == ["/p/secret"], "projects are tenant filtered",
            body)
    st, _, body, js = call(api, "/api/v1/users", "/api/v1/users", key_b)
    R.check(st == 200 and [u["user"] for u in js["users"]] == ["ub"], "users are tenant filtered", body)

    # ---- insights
    got = walk(api, key_a, "/api/v1/insights", "insights", {}, 1)
    R.check(isinstance(got, list) and [i["insight_id"] for i in got] == ["i1", "i2", "i3"],
            "insights newest first across pages of 1", got)
    R.check(got and got[0]["details"] == {"n": 3} and got[0]["reason"] == "because", "insight details and reason")
    for params, want in [({"kind": "tool_error_loop"}, ["i2"]), ({"severity": "info"}, ["i3"]),
                         ({"since": "2025-05-01T10:00:00Z", "until": "2025-05-02"}, ["i2"]),
                         ({"session_id": "s02"}, ["i1"])]:
        got = walk(api, key_a, "/api/v1/insights", "insights", params, 50)
        R.check([i["insight_id"] for i in got] == want, "insights filter %s" % params, got)
    got = walk(api, key_b, "/api/v1/insights", "insights", {}, 50)
    R.check([i["insight_id"] for i in got] == ["i9"], "insights are tenant filtered", got)
    st, _, body, js = call(api, "/api/v1/insights", "/api/v1/insights", key_a, params={"severity": "high"})
    R.check(st == 400 and js["error"]["field"] == "severity", "insights severity=high is 400", body)

    # ---- search
    got = walk(api, key_a, "/api/v1/search", "results", {"q": "flux"}, 1)
    R.check(isinstance(got, list) and [r["event_id"] for r in got] == ["e0", "e3", "e2"],
            "search: every match once, newest first, across pages of 1", got)
    R.check(got and "<mark>flux</mark>" in got[0]["snippet"] and "<mark>FLUX</mark>" in got[2]["snippet"],
            "search snippets mark the matches", got)
    got = walk(api, key_a, "/api/v1/search", "results", {"q": "flux plutonium"}, 10)
    R.check([r["event_id"] for r in got] == ["e0"], "search: all words must occur", got)
    got = walk(api, key_a, "/api/v1/search", "results", {"q": "flux", "until": "2025-05-01T12:00:00Z"}, 10)
    R.check([r["event_id"] for r in got] == ["e3", "e2"], "search with a time window", got)
    got = walk(api, key_a, "/api/v1/search", "results", {"q": "flux", "project": "/p/none"}, 10)
    R.check(got == [], "search with another project finds nothing", got)
    got = walk(api, key_b, "/api/v1/search", "results", {"q": "flux"}, 10)
    R.check([r["event_id"] for r in got] == ["e9"], "search is tenant filtered", got)
    got = walk(api, key_a, "/api/v1/search", "results", {"q": "secret"}, 10)
    R.check(got == [], "tenant A cannot find tenant B's text", got)
    st, _, body, js = call(api, "/api/v1/search", "/api/v1/search", key_a, params={"q": "flux", "limit": 1})
    st, _, body, js = call(api, "/api/v1/search", "/api/v1/search", key_a,
                           params={"q": "flux", "cursor": js["next_cursor"], "sort": "cost"})
    R.check(st == 400 and js["error"]["field"] == "sort", "search refuses parameters it does not have", body)
    for params, field in [({}, "q"), ({"q": "   "}, "q"), ({"q": "x", "limit": "101"}, "limit")]:
        st, _, body, js = call(api, "/api/v1/search", "/api/v1/search", key_a, params=params)
        R.check(st == 400 and js["error"]["field"] == field, "search 400 field=%s for %s" % (field, params), body)
    st, _, body, js = call(api, "/api/v1/sessions", "/api/v1/sessions", key_a, params={"limit": 1})
    st, _, body, js = call(api, "/api/v1/search", "/api/v1/search", key_a, params={"q": "x", "cursor": js["next_cursor"]})
    R.check(st == 400 and js["error"]["field"] == "cursor", "a sessions cursor is refused by search", body)
    for route in ("/api/v1/projects", "/api/v1/users", "/api/v1/insights", "/api/v1/search"):
        st, hd, body, js = call(api, route, route, params={"q": "flux"} if route.endswith("search") else None)
        R.check(st == 401 and "Bearer" in (hd.get("WWW-Authenticate") or ""), "%s needs a key" % route, body)

    R.check(not SCHEMA_BAD, "every JSON response validates against api/openapi.yaml", SCHEMA_BAD[:5])


def rate_limit(url, key_a, key_b):
    api = at.Api(url, extra_env={"OBS_RATE_LIMIT_RPS": "1", "OBS_RATE_LIMIT_BURST": "3"}, threads=2)
    try:
        sts = [api.request("/api/v1/projects", key=key_a) for _ in range(5)]
        codes = [s[0] for s in sts]
        R.check(codes[:3] == [200, 200, 200] and 429 in codes[3:], "burst of 3 then 429 (rps 1)", codes)
        st, hd, body, js = next((s for s in sts if s[0] == 429), (0, {}, "", None))
        R.check(js and js["error"]["code"] == "rate_limited" and int(hd.get("Retry-After") or 0) >= 1,
                "429 is JSON with code rate_limited and Retry-After", (hd.get("Retry-After"), body))
        sch = at.response_schema(SPEC, "/api/v1/projects", 429)
        R.check(sch is not None and not at.validate(SPEC, sch, js), "429 is documented in the OpenAPI document")
        st, _, _, _ = api.request("/api/v1/projects", key=key_b)
        R.check(st == 200, "another key has its own bucket", st)
        st, _, _, _ = api.request("/healthz")
        R.check(st == 200, "/healthz is not rate limited", st)
        import time
        time.sleep(1.2)
        st, _, _, _ = api.request("/api/v1/projects", key=key_a)
        R.check(st == 200, "the bucket refills (1 token per second)", st)
        st, _, text, _ = api.request("/metrics")
        R.check('route="/api/v1/projects",status="429"' in text, "429s are counted in /metrics")
    finally:
        R.check(api.stop() == 0, "rate-limited obs-api exits 0 on SIGTERM")


def main():
    url = at.fresh_db(DB)
    try:
        at.psql(url, seed())
        key_a, _ = at.create_key(url, "A")
        key_b, _ = at.create_key(url, "B")
        api = at.Api(url)
        try:
            run(api, key_a, key_b)
        finally:
            R.check(api.stop() == 0, "obs-api exits 0 on SIGTERM")
        rate_limit(url, key_a, key_b)
    finally:
        at.drop_db(DB)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, never hang
        import traceback
        traceback.print_exc()
        R.check(False, "test ran to completion", e)
    R.end()
