/* api_sql.h - every SQL statement obs-api runs, in one place.
 *
 * All of them take the caller's tenant as $1 and filter by it; user input
 * only ever travels as parameters. List queries return (json, cursor_key,
 * cursor_id) rows, limit+1 of them so the handler knows whether a next page
 * exists; PostgreSQL builds each row's JSON object (exact numerics, stable
 * key order), the handler only concatenates.
 *
 * Session figures come from the roll-up columns the worker keeps on
 * `sessions` (migrations/0004_rollups.sql), usage by UTC day from
 * `daily_usage`: a list page is one index scan, no aggregate per row. */
#ifndef API_SQL_H
#define API_SQL_H

/* clang-format off */

/* $1 = hex sha256 of the key. Revoked, expired and scope-less keys never match.
 * Returns the tenant and the expiry in Unix ms (0 = never), which obs-api
 * checks locally on every cached use; revocations reach the cache as
 * NOTIFY observatory_api_keys (migrations/0043, ADR 0033). */
#define API_SQL_AUTH \
    "SELECT tenant, CASE WHEN isfinite(expires_at) THEN floor(extract(epoch FROM expires_at) * 1000)::bigint" \
    " ELSE 0 END FROM api_keys" \
    " WHERE key_hash = decode($1, 'hex') AND revoked_at IS NULL" \
    " AND (expires_at IS NULL OR expires_at > now()) AND scopes && ARRAY['read', 'admin']::text[]"

#define API_SQL_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define API_SQL_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* SESSION object (docs/CONTRACTS.md) of sessions s, from its roll-up columns. */
#define API_SQL_SESSION_JSON \
    "json_build_object('session_id', s.session_id, 'project', s.project, 'cwd', s.cwd, 'host', s.host," \
    " 'user', s.os_user, 'git_branch', s.git_branch, 'title', s.title," \
    " 'first_event_at', " API_SQL_TS("s.first_event_at") ", 'last_event_at', " API_SQL_TS("s.last_event_at") "," \
    " 'events', s.events, 'input_tokens', s.input_tokens, 'output_tokens', s.output_tokens," \
    " 'cache_creation_tokens', s.cache_creation_tokens, 'cache_read_tokens', s.cache_read_tokens," \
    " 'total_tokens', s.total_tokens, 'cost_usd', trim_scale(s.cost_usd), 'models', to_json(s.models))"

/* Session list. $1 tenant, $2 since, $3 until (exclusive; both on
 * first_event_at), $4 project, $5 cursor key, $6 cursor session id,
 * $7 limit+1, $8 user, $9 host, $10 model, $11 git_branch, $12 min_cost,
 * $13 has_errors, $14 has_insights. Sessions without a first event time are
 * not listed (they have no place in the order). */
#define API_SQL_SESSIONS_WHERE \
    " FROM sessions s WHERE s.tenant = $1 AND s.first_event_at IS NOT NULL" \
    " AND ($2::timestamptz IS NULL OR s.first_event_at >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR s.first_event_at < $3::timestamptz)" \
    " AND ($4::text IS NULL OR s.project = $4::text)" \
    " AND ($8::text IS NULL OR s.os_user = $8::text)" \
    " AND ($9::text IS NULL OR s.host = $9::text)" \
    " AND ($10::text IS NULL OR s.models @> ARRAY[$10::text])" \
    " AND ($11::text IS NULL OR s.git_branch = $11::text)" \
    " AND ($12::numeric IS NULL OR s.cost_usd >= $12::numeric)" \
    " AND ($13::boolean IS NULL OR s.has_errors = $13::boolean)" \
    " AND ($14::boolean IS NULL OR (s.insights > 0) = $14::boolean)"

/* One statement per sort: KEY is the sort expression (each has an index,
 * descending, with session_id), KEYOUT its cursor value as bigint, KEYIN
 * the cursor value turned back into KEY's type, EXTRA more conditions. */
#define API_SQL_SESSIONS_BY(KEY, KEYOUT, KEYIN, EXTRA) \
    "SELECT " API_SQL_SESSION_JSON ", " KEYOUT ", s.session_id" API_SQL_SESSIONS_WHERE EXTRA \
    " AND ($5::bigint IS NULL OR (" KEY ", s.session_id) < (" KEYIN ", $6::text))" \
    " ORDER BY " KEY " DESC, s.session_id DESC LIMIT $7::int"

/* sort=start (default): first_event_at, cursor in microseconds. */
#define API_SQL_SESSIONS \
    API_SQL_SESSIONS_BY("s.first_event_at", API_SQL_US("s.first_event_at"), \
                        "'epoch'::timestamptz + $5::bigint * interval '1 microsecond'", "")
/* sort=end: last_event_at. */
#define API_SQL_SESSIONS_END \
    API_SQL_SESSIONS_BY("s.last_event_at", API_SQL_US("s.last_event_at"), \
                        "'epoch'::timestamptz + $5::bigint * interval '1 microsecond'", \
                        " AND s.last_event_at IS NOT NULL")
/* sort=cost: cost_usd, cursor in nano-USD (the column's scale is 9). */
#define API_SQL_SESSIONS_COST \
    API_SQL_SESSIONS_BY("s.cost_usd", "(s.cost_usd * 1000000000)::bigint", "$5::bigint * 0.000000001", "")
/* sort=tokens: total_tokens. */
#define API_SQL_SESSIONS_TOKENS API_SQL_SESSIONS_BY("s.total_tokens", "s.total_tokens", "$5::bigint", "")
/* sort=duration: last_event_at - first_event_at, cursor in microseconds
 * (index sessions_duration_idx, migrations/0020). */
#define API_SQL_SESSIONS_DURATION \
    API_SQL_SESSIONS_BY("(s.last_event_at - s.first_event_at)", API_SQL_US("s.last_event_at - s.first_event_at"), \
                        "$5::bigint * interval '1 microsecond'", " AND s.last_event_at IS NOT NULL")

/* INSIGHT object of insights i. */
#define API_SQL_INSIGHT_JSON \
    "json_build_object('insight_id', i.insight_id, 'session_id', i.session_id, 'kind', i.kind," \
    " 'severity', i.severity, 'reason', i.reason, 'details', i.details, 'event_time', " \
    API_SQL_TS("i.event_time") ")"

/* Session detail, part 1. $1 tenant, $2 session id -> (SESSION, rollups
 * object without tools and subagents, first_event_at, last_event_at as
 * text). Only small tables: planning stays cheap. */
#define API_SQL_SESSION \
    "SELECT " API_SQL_SESSION_JSON ", json_build_object(" \
    "'user_messages', s.user_messages, 'assistant_messages', s.assistant_messages," \
    " 'tool_calls', s.tool_calls, 'tool_errors', s.tool_errors, 'api_errors', s.api_errors," \
    " 'interruptions', s.interruptions, 'active_ms', s.active_ms, 'has_errors', s.has_errors," \
    " 'ended_with', s.ended_with, 'subagent_cost_usd', trim_scale(s.subagent_cost_usd)," \
    " 'files', coalesce((SELECT json_agg(json_build_object('path', f.path, 'read', f.r, 'edit', f.e," \
    " 'write', f.w) ORDER BY f.r + f.e + f.w DESC, f.path COLLATE \"C\") FROM (SELECT sf.path," \
    " coalesce(sum(sf.count) FILTER (WHERE sf.action = 'read'), 0) AS r," \
    " coalesce(sum(sf.count) FILTER (WHERE sf.action = 'edit'), 0) AS e," \
    " coalesce(sum(sf.count) FILTER (WHERE sf.action = 'write'), 0) AS w FROM session_files sf" \
    " WHERE sf.tenant = s.tenant AND sf.session_id = s.session_id GROUP BY sf.path" \
    " ORDER BY sum(sf.count) DESC, sf.path COLLATE \"C\" LIMIT 500) f), '[]')," \
    " 'insights', coalesce((SELECT json_agg(" API_SQL_INSIGHT_JSON " ORDER BY i.event_time, i.insight_id)" \
    " FROM insights i WHERE i.tenant = s.tenant AND i.session_id = s.session_id), '[]'))," \
    " s.first_event_at::text, s.last_event_at::text" \
    " FROM sessions s WHERE s.tenant = $1 AND s.session_id = $2"

/* Session detail, part 2: tool calls by tool and sub-agent usage. $1 tenant,
 * $2 session id, $3/$4 the session's first/last event time (NULL = open):
 * as plan-time constants they prune the time partitions of tool_calls and
 * events to the session's days (a correlated bound would plan every
 * partition: ~40 ms at 90 days). */
#define API_SQL_SESSION_PARTS \
    "SELECT coalesce((SELECT json_agg(json_build_object('tool_name', t.tool_name, 'calls', t.n," \
    " 'errors', t.err) ORDER BY t.n DESC, t.tool_name COLLATE \"C\") FROM (SELECT c.tool_name, count(*) AS n," \
    " count(*) FILTER (WHERE c.is_error) AS err FROM tool_calls c WHERE c.tenant = $1" \
    " AND c.session_id = $2 AND ($3::timestamptz IS NULL OR c.event_time >= $3::timestamptz)" \
    " AND ($4::timestamptz IS NULL OR c.event_time <= $4::timestamptz) GROUP BY c.tool_name) t), '[]')," \
    " coalesce((SELECT json_agg(json_build_object('agent_id', a.agent_id, 'messages', a.n," \
    " 'input_tokens', a.i, 'output_tokens', a.o, 'cache_creation_tokens', a.cc, 'cache_read_tokens', a.cr," \
    " 'cost_usd', a.cost) ORDER BY a.agent_id COLLATE \"C\" NULLS FIRST) FROM (SELECT e.agent_id, count(*) AS n," \
    " sum(m.input_tokens) AS i, sum(m.output_tokens) AS o, sum(m.cache_creation_tokens) AS cc," \
    " sum(m.cache_read_tokens) AS cr, trim_scale(sum(m.cost_usd)) AS cost FROM message_usage m" \
    " LEFT JOIN events e ON e.tenant = m.tenant AND e.event_id = m.event_id AND e.event_time = m.event_time" \
    " AND ($3::timestamptz IS NULL OR e.event_time >= $3::timestamptz)" \
    " AND ($4::timestamptz IS NULL OR e.event_time <= $4::timestamptz)" \
    " WHERE m.tenant = $1 AND m.session_id = $2 AND m.is_sidechain GROUP BY e.agent_id) a), '[]')"

#define API_SQL_SESSION_EXISTS "SELECT 1 FROM sessions WHERE tenant = $1 AND session_id = $2"

/* $1 tenant, $2 session, $3 cursor time (µs), $4 cursor event id, $5 limit+1. Oldest first. */
#define API_SQL_EVENTS \
    "SELECT json_build_object('event_id', e.event_id, 'event_time', " API_SQL_TS("e.event_time") "," \
    " 'type', e.type, 'subtype', e.subtype, 'uuid', e.uuid, 'parent_uuid', e.parent_uuid," \
    " 'is_sidechain', e.is_sidechain, 'agent_id', e.agent_id, 'message_id', e.message_id," \
    " 'model', e.model, 'is_error', e.is_error, 'input_tokens', e.input_tokens," \
    " 'output_tokens', e.output_tokens, 'cache_creation_tokens', e.cache_creation_tokens," \
    " 'cache_read_tokens', e.cache_read_tokens, 'text', left(e.text_content, 4000))," \
    " " API_SQL_US("e.event_time") ", e.event_id" \
    " FROM events e WHERE e.tenant = $1 AND e.session_id = $2" \
    " AND ($3::bigint IS NULL OR (e.event_time, e.event_id) >" \
    " ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::text))" \
    " ORDER BY e.event_time, e.event_id LIMIT $5::int"

/* $1 tenant, $2 session, $3 cursor time (µs), $4 cursor tool_use_id, $5 limit+1. Oldest first. */
#define API_SQL_TOOL_CALLS \
    "SELECT json_build_object('tool_use_id', c.tool_use_id, 'event_time', " API_SQL_TS("c.event_time") "," \
    " 'event_id', c.event_id, 'tool_name', c.tool_name, 'tool_category', c.tool_category," \
    " 'is_sidechain', c.is_sidechain, 'input_summary', c.input_summary," \
    " 'result_time', " API_SQL_TS("c.result_time") ", 'duration_ms', c.duration_ms," \
    " 'is_error', c.is_error, 'error_excerpt', c.error_excerpt)," \
    " " API_SQL_US("c.event_time") ", c.tool_use_id" \
    " FROM tool_calls c WHERE c.tenant = $1 AND c.session_id = $2" \
    " AND ($3::bigint IS NULL OR (c.event_time, c.tool_use_id) >" \
    " ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::text))" \
    " ORDER BY c.event_time, c.tool_use_id LIMIT $5::int"

/* One usage bucket g (k, i, o, cc, cr, cost, n). */
#define API_SQL_USAGE_BUCKET \
    "SELECT json_build_object('key', g.k, 'input_tokens', g.i, 'output_tokens', g.o," \
    " 'cache_creation_tokens', g.cc, 'cache_read_tokens', g.cr, 'total_tokens', g.i + g.o + g.cc + g.cr," \
    " 'cost_usd', g.cost, 'messages', g.n) FROM ("
#define API_SQL_USAGE_SUMS(T, N) \
    " sum(" T ".input_tokens) AS i, sum(" T ".output_tokens) AS o, sum(" T ".cache_creation_tokens) AS cc," \
    " sum(" T ".cache_read_tokens) AS cr, trim_scale(sum(" T ".cost_usd)) AS cost, " N " AS n"

/* Usage from daily_usage (UTC days; ccusage daily rule). $1 tenant,
 * $2 first day (inclusive), $3 end day (exclusive), $4 project, $5 group
 * (day|week|project|model|user|host), $6 user, $7 host, $8 model. The rows
 * are first summed by the raw grouping column (a date, or one text
 * column; $5 is a plan-time constant, so the CASEs fold away) and only the
 * few groups get their key formatted: to_char() per daily_usage row cost
 * more than the aggregate itself (ADR 0032). */
#define API_SQL_USAGE_DAILY \
    API_SQL_USAGE_BUCKET \
    " SELECT CASE $5::text WHEN 'day' THEN to_char(r.day, 'YYYY-MM-DD')" \
    " WHEN 'week' THEN to_char(date_trunc('week', r.day::timestamp), 'YYYY-MM-DD') ELSE r.dim END AS k," \
    " sum(r.i) AS i, sum(r.o) AS o, sum(r.cc) AS cc, sum(r.cr) AS cr, trim_scale(sum(r.cost)) AS cost," \
    " sum(r.n) AS n FROM (" \
    " SELECT CASE WHEN $5::text IN ('day', 'week') THEN d.day END AS day," \
    " CASE $5::text WHEN 'project' THEN nullif(d.project, '') WHEN 'model' THEN nullif(d.model, '')" \
    " WHEN 'user' THEN d.os_user WHEN 'host' THEN d.host END AS dim," \
    " sum(d.input_tokens) AS i, sum(d.output_tokens) AS o, sum(d.cache_creation_tokens) AS cc," \
    " sum(d.cache_read_tokens) AS cr, sum(d.cost_usd) AS cost, sum(d.messages) AS n" \
    " FROM daily_usage d WHERE d.tenant = $1" \
    " AND ($2::date IS NULL OR d.day >= $2::date) AND ($3::date IS NULL OR d.day < $3::date)" \
    " AND ($4::text IS NULL OR d.project = $4::text) AND ($6::text IS NULL OR d.os_user = $6::text)" \
    " AND ($7::text IS NULL OR d.host = $7::text) AND ($8::text IS NULL OR d.model = $8::text)" \
    " GROUP BY 1, 2) r GROUP BY 1) g ORDER BY g.k COLLATE \"C\" NULLS LAST"

/* Usage by UTC day or week without filters, from the per-day totals
 * (migrations/0042: usage_day + usage_day_delta, kept by triggers on
 * daily_usage): one row per day whatever the number of project x model x
 * user x host combinations. $1 tenant, $2 first day, $3 end day
 * (exclusive), $4 group (day|week). Same buckets as API_SQL_USAGE_DAILY. */
#define API_SQL_USAGE_DAY \
    API_SQL_USAGE_BUCKET \
    " SELECT CASE $4::text WHEN 'week' THEN to_char(date_trunc('week', r.day::timestamp), 'YYYY-MM-DD')" \
    " ELSE to_char(r.day, 'YYYY-MM-DD') END AS k, sum(r.i) AS i, sum(r.o) AS o, sum(r.cc) AS cc, sum(r.cr) AS cr," \
    " trim_scale(sum(r.cost)) AS cost, sum(r.n) AS n FROM (" \
    " SELECT u.day, sum(u.input_tokens) AS i, sum(u.output_tokens) AS o, sum(u.cache_creation_tokens) AS cc," \
    " sum(u.cache_read_tokens) AS cr, sum(u.cost_usd) AS cost, sum(u.messages) AS n" \
    " FROM (SELECT * FROM usage_day UNION ALL SELECT * FROM usage_day_delta) u WHERE u.tenant = $1" \
    " AND ($2::date IS NULL OR u.day >= $2::date) AND ($3::date IS NULL OR u.day < $3::date)" \
    " GROUP BY u.day) r GROUP BY 1) g ORDER BY g.k COLLATE \"C\" NULLS LAST"

/* Usage from message_usage, for buckets in another time zone or a window
 * that does not start and end at UTC midnight (same daily rule: btw
 * replays excluded). $1..$8 as above but $2/$3 instants, $9 time zone. */
#define API_SQL_USAGE_EVENTS \
    API_SQL_USAGE_BUCKET \
    " SELECT CASE $5::text WHEN 'day' THEN to_char(m.event_time AT TIME ZONE $9::text, 'YYYY-MM-DD')" \
    " WHEN 'week' THEN to_char(date_trunc('week', m.event_time AT TIME ZONE $9::text), 'YYYY-MM-DD')" \
    " WHEN 'project' THEN m.project WHEN 'model' THEN m.model" \
    " WHEN 'user' THEN m.os_user ELSE m.host END AS k," API_SQL_USAGE_SUMS("m", "count(*)") \
    " FROM message_usage m WHERE m.tenant = $1 AND NOT m.btw_replay" \
    " AND ($2::timestamptz IS NULL OR m.event_time >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR m.event_time < $3::timestamptz)" \
    " AND ($4::text IS NULL OR m.project = $4::text) AND ($6::text IS NULL OR m.os_user = $6::text)" \
    " AND ($7::text IS NULL OR m.host = $7::text) AND ($8::text IS NULL OR m.model = $8::text)" \
    " GROUP BY 1) g ORDER BY g.k COLLATE \"C\" NULLS LAST"

/* Tools, per tool name (migrations/0041_tool_daily.sql, ADR 0032). $1 tenant,
 * $2 since, $3 until, $4/$5 the UTC midnights [first, end) of the whole days
 * that tool_daily answers (NULL: none; -infinity/infinity: unbounded). Calls
 * outside them (the cut days at the window's edges) come from tool_calls,
 * bucketed the same way, so both sources add up to the same figures; with a
 * session filter see API_SQL_TOOLS_SESS. Percentiles are read off the duration buckets
 * (within 4.5 % + 1 ms of percentile_cont); sessions counts each session
 * once per UTC day it used the tool. */
#define API_SQL_TOOLS_RAW_WHERE \
    " FROM tool_calls c WHERE c.tenant = $1" \
    " AND ($2::timestamptz IS NULL OR c.event_time >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR c.event_time < $3::timestamptz)" \
    " AND ($4::timestamptz IS NULL OR c.event_time < $4::timestamptz OR c.event_time >= $5::timestamptz)"
#define API_SQL_TOOLS_DAILY(T, D0, D1) \
    " SELECT d.tool_name, d.bucket, d.tool_category, d.calls, d.errors, d.duration_ms_sum, d.sessions" \
    " FROM " T " d WHERE d.tenant = $1 AND " D0 "::timestamptz IS NOT NULL" \
    " AND d.day >= (" D0 "::timestamptz AT TIME ZONE 'UTC')::date" \
    " AND d.day < (" D1 "::timestamptz AT TIME ZONE 'UTC')::date"
#define API_SQL_TOOLS_PCT(P, LO, HI) \
    "round(obs_tool_bucket_ms(g." LO ") + (" P " * (g.timed - 1) - floor(" P " * (g.timed - 1)))" \
    " * (obs_tool_bucket_ms(g." HI ") - obs_tool_bucket_ms(g." LO ")))::bigint"
#define API_SQL_TOOLS_RANK(P, CEIL_OR_FLOOR) \
    " cum >= " CEIL_OR_FLOOR "(" P " * (timed - 1)) + 1)"
#define API_SQL_TOOLS_RAW \
    " UNION ALL SELECT c.tool_name, coalesce(obs_tool_bucket(c.duration_ms), -1), min(c.tool_category), count(*)," \
    " count(*) FILTER (WHERE c.is_error), coalesce(sum(c.duration_ms), 0), 0" API_SQL_TOOLS_RAW_WHERE \
    " GROUP BY 1, 2" \
    " UNION ALL SELECT x.tool_name, -1, NULL, 0, 0, 0, count(*) FROM (SELECT DISTINCT c.tool_name, c.session_id," \
    " (c.event_time AT TIME ZONE 'UTC')::date" API_SQL_TOOLS_RAW_WHERE ") x GROUP BY 1"
/* RAW: API_SQL_TOOLS_RAW, or "" when the window has no cut day and no
 * session filter (then $2/$3 are not referenced: the handler passes $4/$5
 * as $2/$3 of API_SQL_TOOLS_DAYS; planning the tool_calls part costs ~9 ms
 * even when every partition is pruned). */
#define API_SQL_TOOLS_FROM(PRE, RAW, D0, D1) \
    PRE " r (tool_name, bucket, cat, calls, errors, dsum, sessions) AS (" \
    API_SQL_TOOLS_DAILY("tool_daily", D0, D1) " UNION ALL" API_SQL_TOOLS_DAILY("tool_daily_delta", D0, D1) RAW \
    ")," \
    " b AS (SELECT tool_name, bucket, min(cat) AS cat, sum(calls) AS calls, sum(errors) AS errors, sum(dsum) AS dsum," \
    " sum(sessions) AS sessions FROM r GROUP BY 1, 2)," \
    " h AS (SELECT b.*, sum(calls) FILTER (WHERE bucket >= 0) OVER (PARTITION BY tool_name ORDER BY bucket) AS cum," \
    " (sum(calls) FILTER (WHERE bucket >= 0) OVER (PARTITION BY tool_name))::float8 AS timed FROM b)," \
    " g AS (SELECT tool_name, min(cat) AS cat, sum(calls) AS n, sum(errors) AS err, sum(sessions) AS s," \
    " sum(dsum) AS dsum, max(timed) AS timed," \
    " min(bucket) FILTER (WHERE bucket >= 0 AND" API_SQL_TOOLS_RANK("0.5", "floor") " AS b50lo," \
    " min(bucket) FILTER (WHERE bucket >= 0 AND" API_SQL_TOOLS_RANK("0.5", "ceil") " AS b50hi," \
    " min(bucket) FILTER (WHERE bucket >= 0 AND" API_SQL_TOOLS_RANK("0.95", "floor") " AS b95lo," \
    " min(bucket) FILTER (WHERE bucket >= 0 AND" API_SQL_TOOLS_RANK("0.95", "ceil") " AS b95hi" \
    " FROM h GROUP BY tool_name)" \
    " SELECT json_build_object('tool_name', g.tool_name, 'tool_category', g.cat, 'calls', g.n," \
    " 'errors', g.err, 'error_rate', round(g.err / g.n, 4), 'sessions', g.s," \
    " 'avg_duration_ms', CASE WHEN g.timed > 0 THEN round(g.dsum / g.timed::numeric)::bigint END," \
    " 'p50_duration_ms', " API_SQL_TOOLS_PCT("0.5", "b50lo", "b50hi") "," \
    " 'p95_duration_ms', " API_SQL_TOOLS_PCT("0.95", "b95lo", "b95hi") ")" \
    " FROM g WHERE g.n > 0 ORDER BY g.n DESC, g.tool_name COLLATE \"C\""
#define API_SQL_TOOLS API_SQL_TOOLS_FROM("WITH", API_SQL_TOOLS_RAW, "$4", "$5")
/* $1 tenant, $2/$3 the whole days' UTC midnights [first, end). */
#define API_SQL_TOOLS_DAYS API_SQL_TOOLS_FROM("WITH", "", "$2", "$3")
/* With project/user/host ($1 tenant, $2 since, $3 until, $4 project, $5
 * user, $6 host; no tool_daily part): the matching sessions first (ss, by
 * the sessions indexes), then each session's calls by tool_calls_session_idx
 * (tenant, session_id, event_time) inside the session's own time span, a
 * per-loop bound that run-time pruning turns into one or two day
 * partitions per session (OFFSET 0 keeps the lateral subquery, hence the
 * parameterised nested loop). The span is the rule of migrations/0007: a
 * session's lines with a real timestamp lie within first_event_at ..
 * last_event_at unless times_inferred; sessions with inferred times or
 * without a span are read unbounded. The calls are read once (sc) for both
 * aggregates. Replaces an EXISTS per call that read every tool_calls row of
 * the tenant (ADR 0033, "Tools by session filter"). */
#define API_SQL_TOOLS_SESS_PRE \
    "WITH ss AS MATERIALIZED (SELECT s.session_id," \
    " CASE WHEN s.times_inferred OR s.first_event_at IS NULL OR s.last_event_at IS NULL THEN '-infinity'" \
    " ELSE s.first_event_at END AS lo," \
    " CASE WHEN s.times_inferred OR s.first_event_at IS NULL OR s.last_event_at IS NULL THEN 'infinity'" \
    " ELSE s.last_event_at END AS hi FROM sessions s WHERE s.tenant = $1" \
    " AND ($4::text IS NULL OR s.project = $4::text) AND ($5::text IS NULL OR s.os_user = $5::text)" \
    " AND ($6::text IS NULL OR s.host = $6::text))," \
    " sc AS MATERIALIZED (SELECT x.* FROM ss CROSS JOIN LATERAL (SELECT c.tool_name, c.tool_category," \
    " c.session_id, c.event_time, c.is_error, c.duration_ms FROM tool_calls c" \
    " WHERE c.tenant = $1 AND c.session_id = ss.session_id AND c.event_time >= ss.lo AND c.event_time <= ss.hi" \
    " AND ($2::timestamptz IS NULL OR c.event_time >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR c.event_time < $3::timestamptz) OFFSET 0) x),"
#define API_SQL_TOOLS_SESS_RAW \
    " UNION ALL SELECT c.tool_name, coalesce(obs_tool_bucket(c.duration_ms), -1), min(c.tool_category), count(*)," \
    " count(*) FILTER (WHERE c.is_error), coalesce(sum(c.duration_ms), 0), 0 FROM sc c GROUP BY 1, 2" \
    " UNION ALL SELECT x.tool_name, -1, NULL, 0, 0, 0, count(*) FROM (SELECT DISTINCT c.tool_name, c.session_id," \
    " (c.event_time AT TIME ZONE 'UTC')::date FROM sc c) x GROUP BY 1"
#define API_SQL_TOOLS_SESS API_SQL_TOOLS_FROM(API_SQL_TOOLS_SESS_PRE, API_SQL_TOOLS_SESS_RAW, "NULL", "NULL")

/* Projects or users from the session roll-ups. $1 tenant, $2 since, $3
 * until (on first_event_at). COL is the grouping column. */
#define API_SQL_GROUPED_SESSIONS(NAME, COL) \
    "SELECT json_build_object('" NAME "', g.k, 'sessions', g.n, 'first_event_at', " API_SQL_TS("g.f") "," \
    " 'last_event_at', " API_SQL_TS("g.l") ", 'total_tokens', g.t, 'cost_usd', trim_scale(g.cost)," \
    " 'hosts', g.h, 'users', g.u) FROM (SELECT " COL " AS k, count(*) AS n, min(s.first_event_at) AS f," \
    " max(s.last_event_at) AS l, sum(s.total_tokens) AS t, sum(s.cost_usd) AS cost," \
    " count(DISTINCT s.host) AS h, count(DISTINCT s.os_user) AS u FROM sessions s WHERE s.tenant = $1" \
    " AND s.first_event_at IS NOT NULL" \
    " AND ($2::timestamptz IS NULL OR s.first_event_at >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR s.first_event_at < $3::timestamptz)" \
    " GROUP BY 1) g ORDER BY g.k COLLATE \"C\" NULLS LAST LIMIT 10000"
#define API_SQL_PROJECTS API_SQL_GROUPED_SESSIONS("project", "s.project")
#define API_SQL_USERS API_SQL_GROUPED_SESSIONS("user", "s.os_user")

/* $1 tenant, $2 since, $3 until (on event_time), $4 kind, $5 severity,
 * $6 cursor time (µs), $7 cursor insight id, $8 limit+1, $9 session id.
 * Newest first. */
#define API_SQL_INSIGHTS \
    "SELECT " API_SQL_INSIGHT_JSON ", " API_SQL_US("i.event_time") ", i.insight_id" \
    " FROM insights i WHERE i.tenant = $1" \
    " AND ($2::timestamptz IS NULL OR i.event_time >= $2::timestamptz)" \
    " AND ($3::timestamptz IS NULL OR i.event_time < $3::timestamptz)" \
    " AND ($4::text IS NULL OR i.kind = $4::text) AND ($5::text IS NULL OR i.severity = $5::text)" \
    " AND ($9::text IS NULL OR i.session_id = $9::text)" \
    " AND ($6::bigint IS NULL OR (i.event_time, i.insight_id) <" \
    " ('epoch'::timestamptz + $6::bigint * interval '1 microsecond', $7::text))" \
    " ORDER BY i.event_time DESC, i.insight_id DESC LIMIT $8::int"

/* Full-text search over events.text_content ('simple' configuration, the
 * GIN index events_text_fts_idx). $1 tenant, $2 text (plainto_tsquery: all
 * words must occur), $3 since, $4 until (on event_time), $5 project,
 * $6 cursor time (µs), $7 cursor event id, $8 limit+1, $9 session id.
 * Newest first; the snippet marks matches with <mark>...</mark> and is not
 * HTML-escaped. */
#define API_SQL_SEARCH \
    "SELECT json_build_object('event_id', e.event_id, 'session_id', e.session_id, 'event_time', " \
    API_SQL_TS("e.event_time") ", 'type', e.type, 'project', e.project, 'snippet'," \
    " ts_headline('simple', e.text_content, plainto_tsquery('simple', $2::text)," \
    " 'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10, MaxFragments=2'))," \
    " " API_SQL_US("e.event_time") ", e.event_id" \
    " FROM events e WHERE e.tenant = $1" \
    " AND to_tsvector('simple', coalesce(e.text_content, '')) @@ plainto_tsquery('simple', $2::text)" \
    " AND ($3::timestamptz IS NULL OR e.event_time >= $3::timestamptz)" \
    " AND ($4::timestamptz IS NULL OR e.event_time < $4::timestamptz)" \
    " AND ($5::text IS NULL OR e.project = $5::text) AND ($9::text IS NULL OR e.session_id = $9::text)" \
    " AND ($6::bigint IS NULL OR (e.event_time, e.event_id) <" \
    " ('epoch'::timestamptz + $6::bigint * interval '1 microsecond', $7::text))" \
    " ORDER BY e.event_time DESC, e.event_id DESC LIMIT $8::int"

/* clang-format on */

#endif
