/* api_sql.h - every SQL statement obs-api runs, in one place.
 *
 * All of them take the caller's tenant as $1 and filter by it; user input
 * only ever travels as parameters. List queries return (json, cursor_ts_us,
 * cursor_id) rows, limit+1 of them so the handler knows whether a next page
 * exists; PostgreSQL builds each row's JSON object (exact numerics, stable
 * key order), the handler only concatenates. */
#ifndef API_SQL_H
#define API_SQL_H

/* $1 = hex sha256 of the key. Revoked, expired and scope-less keys never match. */
#define API_SQL_AUTH                                                                                         \
    "SELECT tenant FROM api_keys WHERE key_hash = decode($1, 'hex') AND revoked_at IS NULL"                  \
    " AND (expires_at IS NULL OR expires_at > now()) AND scopes && ARRAY['read', 'admin']::text[]"

#define API_SQL_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* SESSION object (docs/CONTRACTS.md) of sessions s joined with u (usage). */
#define API_SQL_SESSION_JSON                                                                                 \
    "json_build_object('session_id', s.session_id, 'project', s.project, 'cwd', s.cwd, 'host', s.host,"      \
    " 'user', s.os_user, 'git_branch', s.git_branch, 'title', s.title,"                                      \
    " 'first_event_at', " API_SQL_TS(                                                                        \
        "s.first_event_at") ","                                                                              \
                            " 'last_event_at', " API_SQL_TS(                                                 \
                                "s.last_event_at") ", 'events', s.events,"                                   \
                                                   " 'input_tokens', coalesce(u.input_tokens, 0), "          \
                                                   "'output_tokens', coalesce(u.output_tokens, 0),"          \
                                                   " 'cache_creation_tokens', "                              \
                                                   "coalesce(u.cache_creation_tokens, 0),"                   \
                                                   " 'cache_read_tokens', coalesce(u.cache_read_tokens, 0)," \
                                                   " 'total_tokens', coalesce(u.input_tokens + "             \
                                                   "u.output_tokens + u.cache_creation_tokens"               \
                                                   " + u.cache_read_tokens, 0),"                             \
                                                   " 'cost_usd', coalesce(u.cost_usd, 0), 'models', "        \
                                                   "coalesce(u.models, '[]'::json))"

/* Per-session usage aggregate, correlated with s. */
#define API_SQL_SESSION_USAGE                                                                                \
    " LEFT JOIN LATERAL (SELECT sum(m.input_tokens) AS input_tokens, sum(m.output_tokens) AS output_tokens," \
    " sum(m.cache_creation_tokens) AS cache_creation_tokens, sum(m.cache_read_tokens) AS cache_read_tokens," \
    " trim_scale(sum(m.cost_usd)) AS cost_usd,"                                                              \
    " (SELECT json_agg(x.model ORDER BY x.model COLLATE \"C\") FROM (SELECT DISTINCT m2.model"               \
    " FROM message_usage m2 WHERE m2.tenant = s.tenant AND m2.session_id = s.session_id"                     \
    " AND m2.model IS NOT NULL AND m2.model <> '<synthetic>') x) AS models"                                  \
    " FROM message_usage m WHERE m.tenant = s.tenant AND m.session_id = s.session_id) u ON true"

/* $1 tenant, $2 since, $3 until (exclusive), $4 project, $5 cursor time (µs),
 * $6 cursor session id, $7 limit+1. Newest first; sessions without a first
 * event time are not listed (they have no place in the order). */
#define API_SQL_SESSIONS                                                                                     \
    "SELECT " API_SQL_SESSION_JSON                                                                           \
    ", (extract(epoch FROM s.first_event_at) * 1000000)::bigint, s.session_id"                               \
    " FROM sessions s" API_SQL_SESSION_USAGE " WHERE s.tenant = $1 AND s.first_event_at IS NOT NULL"         \
    " AND ($2::timestamptz IS NULL OR s.first_event_at >= $2::timestamptz)"                                  \
    " AND ($3::timestamptz IS NULL OR s.first_event_at < $3::timestamptz)"                                   \
    " AND ($4::text IS NULL OR s.project = $4::text)"                                                        \
    " AND ($5::bigint IS NULL OR (s.first_event_at, s.session_id) <"                                         \
    " ('epoch'::timestamptz + $5::bigint * interval '1 microsecond', $6::text))"                             \
    " ORDER BY s.first_event_at DESC, s.session_id DESC LIMIT $7::int"

/* $1 tenant, $2 session id. */
#define API_SQL_SESSION                                                                                      \
    "SELECT " API_SQL_SESSION_JSON " FROM sessions s" API_SQL_SESSION_USAGE                                  \
    " WHERE s.tenant = $1 AND s.session_id = $2"

#define API_SQL_SESSION_EXISTS "SELECT 1 FROM sessions WHERE tenant = $1 AND session_id = $2"

/* $1 tenant, $2 session, $3 cursor time (µs), $4 cursor event id, $5 limit+1. Oldest first. */
#define API_SQL_EVENTS                                                                                       \
    "SELECT json_build_object('event_id', e.event_id, 'event_time', " API_SQL_TS(                            \
        "e.event_time") ","                                                                                  \
                        " 'type', e.type, 'subtype', e.subtype, 'uuid', e.uuid, 'parent_uuid', "             \
                        "e.parent_uuid,"                                                                     \
                        " 'is_sidechain', e.is_sidechain, 'agent_id', e.agent_id, 'message_id', "            \
                        "e.message_id,"                                                                      \
                        " 'model', e.model, 'is_error', e.is_error, 'input_tokens', e.input_tokens,"         \
                        " 'output_tokens', e.output_tokens, 'cache_creation_tokens', "                       \
                        "e.cache_creation_tokens,"                                                           \
                        " 'cache_read_tokens', e.cache_read_tokens, 'text', left(e.text_content, 4000)),"    \
                        " (extract(epoch FROM e.event_time) * 1000000)::bigint, e.event_id"                  \
                        " FROM events e WHERE e.tenant = $1 AND e.session_id = $2"                           \
                        " AND ($3::bigint IS NULL OR (e.event_time, e.event_id) >"                           \
                        " ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::text))"         \
                        " ORDER BY e.event_time, e.event_id LIMIT $5::int"

/* $1 tenant, $2 session, $3 cursor time (µs), $4 cursor tool_use_id, $5 limit+1. Oldest first. */
#define API_SQL_TOOL_CALLS                                                                                   \
    "SELECT json_build_object('tool_use_id', c.tool_use_id, 'event_time', " API_SQL_TS(                      \
        "c.event_time") ","                                                                                  \
                        " 'event_id', c.event_id, 'tool_name', c.tool_name, 'tool_category', "               \
                        "c.tool_category,"                                                                   \
                        " 'is_sidechain', c.is_sidechain, 'input_summary', c.input_summary,"                 \
                        " 'result_time', " API_SQL_TS(                                                       \
                            "c.result_time") ", 'duration_ms', c.duration_ms,"                               \
                                             " 'is_error', c.is_error, 'error_excerpt', c.error_excerpt),"   \
                                             " (extract(epoch FROM c.event_time) * 1000000)::bigint, "       \
                                             "c.tool_use_id"                                                 \
                                             " FROM tool_calls c WHERE c.tenant = $1 AND c.session_id = $2"  \
                                             " AND ($3::bigint IS NULL OR (c.event_time, c.tool_use_id) >"   \
                                             " ('epoch'::timestamptz + $3::bigint * interval '1 "            \
                                             "microsecond', $4::text))"                                      \
                                             " ORDER BY c.event_time, c.tool_use_id LIMIT $5::int"

/* $1 tenant, $2 since, $3 until, $4 project, $5 group (day|project|model).
 * Buckets of message_usage by event time. */
#define API_SQL_USAGE                                                                                        \
    "SELECT json_build_object('key', g.k, 'input_tokens', g.i, 'output_tokens', g.o,"                        \
    " 'cache_creation_tokens', g.cc, 'cache_read_tokens', g.cr, 'total_tokens', g.i + g.o + g.cc + g.cr,"    \
    " 'cost_usd', g.cost, 'messages', g.n, 'sessions', g.s) FROM ("                                          \
    " SELECT CASE $5::text WHEN 'day' THEN to_char(m.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"           \
    " WHEN 'project' THEN m.project ELSE m.model END AS k,"                                                  \
    " sum(m.input_tokens) AS i, sum(m.output_tokens) AS o, sum(m.cache_creation_tokens) AS cc,"              \
    " sum(m.cache_read_tokens) AS cr, trim_scale(sum(m.cost_usd)) AS cost, count(*) AS n,"                   \
    " count(DISTINCT m.session_id) AS s"                                                                     \
    " FROM message_usage m WHERE m.tenant = $1"                                                              \
    " AND ($2::timestamptz IS NULL OR m.event_time >= $2::timestamptz)"                                      \
    " AND ($3::timestamptz IS NULL OR m.event_time < $3::timestamptz)"                                       \
    " AND ($4::text IS NULL OR m.project = $4::text) GROUP BY 1) g"                                          \
    " ORDER BY g.k COLLATE \"C\" NULLS LAST"

/* $1 tenant, $2 since, $3 until, $4 project (of the session). Per tool name. */
#define API_SQL_TOOLS                                                                                        \
    "SELECT json_build_object('tool_name', g.tool_name, 'tool_category', g.cat, 'calls', g.n,"               \
    " 'errors', g.err, 'sessions', g.s, 'avg_duration_ms', g.avg_ms, 'p95_duration_ms', g.p95) FROM ("       \
    " SELECT c.tool_name, min(c.tool_category) AS cat, count(*) AS n,"                                       \
    " count(*) FILTER (WHERE c.is_error) AS err, count(DISTINCT c.session_id) AS s,"                         \
    " round(avg(c.duration_ms))::bigint AS avg_ms,"                                                          \
    " round(percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms))::bigint AS p95"                     \
    " FROM tool_calls c WHERE c.tenant = $1"                                                                 \
    " AND ($2::timestamptz IS NULL OR c.event_time >= $2::timestamptz)"                                      \
    " AND ($3::timestamptz IS NULL OR c.event_time < $3::timestamptz)"                                       \
    " AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM sessions s WHERE s.tenant = c.tenant"                   \
    " AND s.session_id = c.session_id AND s.project = $4::text))"                                            \
    " GROUP BY c.tool_name) g ORDER BY g.n DESC, g.tool_name COLLATE \"C\""

#endif
