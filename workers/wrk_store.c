/* wrk_store.c - persisting a batch; see wrk_store.h and docs/workers.md.
 * Every statement takes its values as parameters (PQexecPrepared); no SQL
 * is ever built from data. */
#include "wrk_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs_log.h"
#include "obs_pg.h"
#include "obs_util.h"

#define MAX_DAYS 4096
#define MAX_TENANTS 256

struct wrk_store {
    char *url;                       /* connection string, owned */
    const struct wrk_prices *prices; /* price table, borrowed */
    PGconn *conn;                    /* NULL while disconnected */
    int64_t days[MAX_DAYS];          /* UTC days (epoch days) whose partitions exist */
    size_t ndays;                    /* entries in days */
    struct {
        char *tenant;            /* owned */
        int64_t last_ms;         /* last obs_cost_outliers run for it, INT64_MIN = never */
    } out[MAX_TENANTS];          /* tenants seen by this process */
    size_t nout;                 /* entries in out */
    int64_t outlier_interval_ms; /* OBS_INSIGHTS_OUTLIER_INTERVAL_MS, default 60 s */
    int64_t analyze_ms;          /* last check for young tables (wrk_store_commit) */
    char **applied;              /* "tenant\x1fid" of calls inserted with their result (bulk_tools), sorted */
    size_t napplied;             /* entries in applied */
};

/* ---- statements ------------------------------------------------------------ */

struct stmt {
    const char *name; /* prepared statement name */
    const char *sql;  /* its text */
};

/* The mark every tool statement leaves for obs_session_derive: the calls it
 * inserted or changed (CTE rows of tenant, session_id, event_time), by
 * session, with the call's time as tc_from. */
#define TC_MARK(CTE)                                                                                         \
    "INSERT INTO wrk_delta (tenant, session_id, tc_from) SELECT tenant, session_id, event_time FROM " CTE

static const struct stmt STMTS[] = {
    /* An inferred-time line claims its key (migration 0010); no row back: stored already. */
    {"inf_key", "INSERT INTO events_inferred_keys (tenant, event_id, event_time) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING 1"},
    {"ins_event",
     "INSERT INTO events (tenant, event_id, event_time, time_inferred, session_id, host, os_user, "
     "source_path,"
     " file_id, source_offset, type, subtype, uuid, parent_uuid, is_sidechain, agent_id, message_id, "
     "request_id,"
     " model, cwd, project, git_branch, agent_version, is_error, input_tokens, output_tokens,"
     " cache_creation_tokens, cache_read_tokens, text_content, observed_time, raw)"
     " VALUES "
     "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$20,$21,$22,$23,$24,$25,"
     "$26,$27,$28,$29,$30::jsonb) ON CONFLICT DO NOTHING RETURNING 1"},
    /* Tool statements mark the calls they insert or change in wrk_delta
     * (tc_from: the call's time), where obs_session_derive reads tool calls from. */
    {"ins_tool", "WITH i AS (INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id,"
                 " tool_name, tool_category, is_sidechain, input_summary) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                 " ON CONFLICT DO NOTHING RETURNING tenant, session_id, event_time)"
                 " " TC_MARK("i")},
    {"apply_pending",
     "WITH p AS (DELETE FROM tool_results_pending WHERE tenant = $1 AND tool_use_id = $2"
     " RETURNING result_time, is_error, error_excerpt),"
     " u AS (UPDATE tool_calls t SET result_time = p.result_time, is_error = p.is_error, error_excerpt = "
     "p.error_excerpt,"
     " duration_ms = GREATEST(0, (extract(epoch FROM p.result_time - t.event_time) * 1000)::bigint)"
     " FROM p WHERE t.tenant = $1 AND t.tool_use_id = $2 RETURNING t.tenant, t.session_id, t.event_time)"
     " " TC_MARK("u")},
    {"upd_result",
     "WITH u AS (UPDATE tool_calls SET result_time = $3, is_error = $4, error_excerpt = $5,"
     " duration_ms = GREATEST(0, (extract(epoch FROM $3::timestamptz - event_time) * 1000)::bigint)"
     " WHERE tenant = $1 AND tool_use_id = $2 RETURNING tenant, session_id, event_time),"
     " m AS (" TC_MARK("u") ") SELECT 1 FROM u"},
    {"ins_pending", "INSERT INTO tool_results_pending (tenant, tool_use_id, session_id, result_time, "
                    "is_error, error_excerpt)"
                    " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING"},
    {"ins_usage",
     "INSERT INTO message_usage (tenant, usage_key, message_id, request_id, session_id, event_id, event_time,"
     " model, project, os_user, host, is_sidechain, input_tokens, output_tokens, cache_creation_tokens,"
     " cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, has_speed, cost_usd,"
     " price_version, source_path, source_offset)"
     " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)"
     " ON CONFLICT DO NOTHING RETURNING 1"},
    {"get_usage",
     "SELECT is_sidechain, input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens, "
     "has_speed,"
     " source_path, source_offset FROM message_usage WHERE tenant = $1 AND usage_key = $2 FOR UPDATE"},
    {"upd_usage",
     "UPDATE message_usage SET message_id = $3, request_id = $4, session_id = $5, event_id = $6, event_time "
     "= $7,"
     " model = $8, project = $9, os_user = $10, host = $11, is_sidechain = $12, input_tokens = $13,"
     " output_tokens = $14, cache_creation_tokens = $15, cache_creation_5m_tokens = $16,"
     " cache_creation_1h_tokens = $17, cache_read_tokens = $18, has_speed = $19, cost_usd = $20,"
     " price_version = $21, source_path = $22, source_offset = $23 WHERE tenant = $1 AND usage_key = $2"},
    {"btw_self",
     "UPDATE message_usage m SET btw_replay = m.is_sidechain AND EXISTS (SELECT 1 FROM message_usage o"
     " WHERE o.tenant = m.tenant AND o.message_id = m.message_id AND NOT o.is_sidechain"
     " AND o.request_id IS DISTINCT FROM m.request_id) WHERE m.tenant = $1 AND m.usage_key = $2"},
    /* A sidechain copy that becomes a /btw replay leaves the daily roll-up. */
    {"btw_others",
     "WITH u AS (UPDATE message_usage SET btw_replay = true WHERE tenant = $1 AND message_id = $2 AND "
     "is_sidechain"
     " AND request_id IS DISTINCT FROM $3 AND NOT btw_replay RETURNING *)"
     " INSERT INTO wrk_delta (tenant, session_id, day, project, model, os_user, host, in_session, in_daily,"
     " messages, input, output, cc, cr, cost, sub_cost)"
     " SELECT tenant, session_id, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),"
     " coalesce(model, ''), os_user, host, false, true, -1, -input_tokens, -output_tokens,"
     " -cache_creation_tokens, -cache_read_tokens, -cost_usd, 0 FROM u"},
    /* The kept row of a usage key, signed into the batch's delta table:
     * -1 before it is replaced, +1 once it is final. */
    {"usage_delta",
     "INSERT INTO wrk_delta (tenant, session_id, day, project, model, os_user, host, in_session, in_daily,"
     " messages, input, output, cc, cr, cost, sub_cost)"
     " SELECT tenant, session_id, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),"
     " coalesce(model, ''), os_user, host, true, NOT btw_replay, $3::int, $3::int * input_tokens,"
     " $3::int * output_tokens, $3::int * cache_creation_tokens, $3::int * cache_read_tokens,"
     " $3::int * cost_usd, CASE WHEN is_sidechain OR source_path LIKE '%/subagents/%' THEN $3::int * cost_usd"
     " ELSE 0 END FROM message_usage WHERE tenant = $1 AND usage_key = $2"},
    /* btw_self, btw_others and usage_delta(+1) in one round trip: the kept
     * row's /btw flag, the sidechain copies it turns into replays (only when
     * $3: the kept row is not a sidechain, so the two updates never touch the
     * same row and neither reads what the other writes), then the row's +1. */
    {"usage_final",
     "WITH me AS (UPDATE message_usage m SET btw_replay = m.is_sidechain AND EXISTS (SELECT 1 FROM"
     " message_usage o WHERE o.tenant = m.tenant AND o.message_id = m.message_id AND NOT o.is_sidechain"
     " AND o.request_id IS DISTINCT FROM m.request_id) WHERE m.tenant = $1 AND m.usage_key = $2 RETURNING "
     "m.*),"
     " oth AS (UPDATE message_usage SET btw_replay = true WHERE $3::boolean AND tenant = $1 AND message_id = "
     "$4"
     " AND is_sidechain AND request_id IS DISTINCT FROM $5::text AND NOT btw_replay RETURNING *),"
     " d AS (INSERT INTO wrk_delta (tenant, session_id, day, project, model, os_user, host, in_session,"
     " in_daily, messages, input, output, cc, cr, cost, sub_cost)"
     " SELECT tenant, session_id, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),"
     " coalesce(model, ''), os_user, host, false, true, -1, -input_tokens, -output_tokens,"
     " -cache_creation_tokens, -cache_read_tokens, -cost_usd, 0 FROM oth)"
     " INSERT INTO wrk_delta (tenant, session_id, day, project, model, os_user, host, in_session, in_daily,"
     " messages, input, output, cc, cr, cost, sub_cost)"
     " SELECT tenant, session_id, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),"
     " coalesce(model, ''), os_user, host, true, NOT btw_replay, 1, input_tokens, output_tokens,"
     " cache_creation_tokens, cache_read_tokens, cost_usd, CASE WHEN is_sidechain OR source_path LIKE"
     " '%/subagents/%' THEN cost_usd ELSE 0 END FROM me"},
    {"apply_sessions",
     "INSERT INTO sessions AS s (tenant, session_id, host, os_user, input_tokens, output_tokens,"
     " cache_creation_tokens, cache_read_tokens, total_tokens, cost_usd, subagent_cost_usd, "
     "assistant_messages)"
     " SELECT tenant, session_id, min(host), min(os_user), sum(input), sum(output), sum(cc), sum(cr),"
     " sum(input + output + cc + cr), sum(cost), sum(sub_cost), sum(messages) FROM wrk_delta WHERE in_session"
     " GROUP BY tenant, session_id ORDER BY tenant, session_id"
     " ON CONFLICT (tenant, session_id) DO UPDATE SET input_tokens = s.input_tokens + EXCLUDED.input_tokens,"
     " output_tokens = s.output_tokens + EXCLUDED.output_tokens,"
     " cache_creation_tokens = s.cache_creation_tokens + EXCLUDED.cache_creation_tokens,"
     " cache_read_tokens = s.cache_read_tokens + EXCLUDED.cache_read_tokens,"
     " total_tokens = s.total_tokens + EXCLUDED.total_tokens, cost_usd = s.cost_usd + EXCLUDED.cost_usd,"
     " subagent_cost_usd = s.subagent_cost_usd + EXCLUDED.subagent_cost_usd,"
     " assistant_messages = s.assistant_messages + EXCLUDED.assistant_messages, updated_at = now()"},
    {"apply_daily",
     "INSERT INTO daily_usage AS d (tenant, day, project, model, os_user, host, messages, input_tokens,"
     " output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)"
     " SELECT tenant, day, project, model, os_user, host, sum(messages), sum(input), sum(output), sum(cc),"
     " sum(cr), sum(cost) FROM wrk_delta WHERE in_daily GROUP BY tenant, day, project, model, os_user, host"
     " ORDER BY tenant, day, project, model, os_user, host"
     " ON CONFLICT (tenant, day, project, model, os_user, host) DO UPDATE SET"
     " messages = d.messages + EXCLUDED.messages, input_tokens = d.input_tokens + EXCLUDED.input_tokens,"
     " output_tokens = d.output_tokens + EXCLUDED.output_tokens,"
     " cache_creation_tokens = d.cache_creation_tokens + EXCLUDED.cache_creation_tokens,"
     " cache_read_tokens = d.cache_read_tokens + EXCLUDED.cache_read_tokens,"
     " cost_usd = d.cost_usd + EXCLUDED.cost_usd"},
    /* What the batch changed per session (migrations 0009, 0012): the earliest
     * new real-time line, the earliest and latest tool call inserted or given a result, the
     * models of the usage rows it kept, and whether it replaced one. */
    {"derive",
     "SELECT obs_session_derive(tenant, session_id, t_ev, tc_from, tc_to, models, repl, false) FROM (SELECT"
     " tenant, session_id, min(t_ev) AS t_ev, min(tc_from) AS tc_from, max(tc_from) AS tc_to,"
     " array_agg(DISTINCT model) FILTER (WHERE"
     " in_session AND messages > 0 AND model <> '' AND model <> '<synthetic>') AS models,"
     " coalesce(bool_or(in_session AND messages < 0), false) AS repl FROM wrk_delta"
     " GROUP BY tenant, session_id) t ORDER BY tenant, session_id"},
    {"outliers", "SELECT obs_cost_outliers($1), obs_tool_medians_refresh($1)"},
    {"ins_file",
     "INSERT INTO session_files AS f (tenant, session_id, path, action, count) VALUES ($1, $2, $3, $4, 1)"
     " ON CONFLICT (tenant, session_id, path, action) DO UPDATE SET count = f.count + 1"},
    /* Also marks the session in wrk_delta, so that obs_session_derive runs for it. */
    {"upsert_session",
     "WITH mark AS (INSERT INTO wrk_delta (tenant, session_id, t_ev) VALUES ($1, $2,"
     " CASE WHEN $12::boolean THEN NULL ELSE $9::timestamptz END))"
     " INSERT INTO sessions (tenant, session_id, project, cwd, git_branch, host, os_user, title, "
     "agent_version,"
     " first_event_at, last_event_at, events, times_inferred, user_messages, tool_calls, tool_errors,"
     " api_errors, interruptions) VALUES "
     "($1,$2,$3,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)"
     " ON CONFLICT (tenant, session_id) DO UPDATE SET events = sessions.events + EXCLUDED.events,"
     " user_messages = sessions.user_messages + EXCLUDED.user_messages,"
     " tool_calls = sessions.tool_calls + EXCLUDED.tool_calls,"
     " tool_errors = sessions.tool_errors + EXCLUDED.tool_errors,"
     " api_errors = sessions.api_errors + EXCLUDED.api_errors,"
     " interruptions = sessions.interruptions + EXCLUDED.interruptions,"
     " cwd = CASE WHEN sessions.cwd IS NULL OR (EXCLUDED.cwd IS NOT NULL AND EXCLUDED.first_event_at <"
     "  sessions.first_event_at) THEN COALESCE(EXCLUDED.cwd, sessions.cwd) ELSE sessions.cwd END,"
     " project = CASE WHEN sessions.project IS NULL OR (EXCLUDED.project IS NOT NULL AND "
     "EXCLUDED.first_event_at <"
     "  sessions.first_event_at) THEN COALESCE(EXCLUDED.project, sessions.project) ELSE sessions.project END,"
     " git_branch = CASE WHEN EXCLUDED.git_branch IS NOT NULL AND (sessions.last_event_at IS NULL OR"
     "  EXCLUDED.last_event_at >= sessions.last_event_at) THEN EXCLUDED.git_branch ELSE sessions.git_branch "
     "END,"
     " agent_version = CASE WHEN EXCLUDED.agent_version IS NOT NULL AND (sessions.last_event_at IS NULL OR"
     "  EXCLUDED.last_event_at >= sessions.last_event_at) THEN EXCLUDED.agent_version"
     "  ELSE sessions.agent_version END,"
     " title = COALESCE(EXCLUDED.title, sessions.title),"
     /* Inferred times (no line had a timestamp) only fill a gap; real ones replace them. */
     " first_event_at = CASE WHEN EXCLUDED.first_event_at IS NULL THEN sessions.first_event_at"
     "  WHEN sessions.first_event_at IS NULL OR (sessions.times_inferred AND NOT EXCLUDED.times_inferred)"
     "  THEN EXCLUDED.first_event_at WHEN EXCLUDED.times_inferred AND NOT sessions.times_inferred"
     "  THEN sessions.first_event_at ELSE LEAST(sessions.first_event_at, EXCLUDED.first_event_at) END,"
     " last_event_at = CASE WHEN EXCLUDED.last_event_at IS NULL THEN sessions.last_event_at"
     "  WHEN sessions.last_event_at IS NULL OR (sessions.times_inferred AND NOT EXCLUDED.times_inferred)"
     "  THEN EXCLUDED.last_event_at WHEN EXCLUDED.times_inferred AND NOT sessions.times_inferred"
     "  THEN sessions.last_event_at ELSE GREATEST(sessions.last_event_at, EXCLUDED.last_event_at) END,"
     " times_inferred = CASE WHEN EXCLUDED.first_event_at IS NULL THEN sessions.times_inferred"
     "  WHEN sessions.first_event_at IS NULL THEN EXCLUDED.times_inferred"
     "  ELSE sessions.times_inferred AND EXCLUDED.times_inferred END, updated_at = now()"},
    {"ins_error",
     "INSERT INTO ingest_errors (tenant, source_topic, source_partition, source_offset, reason, session_id,"
     " source_path, line_offset, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
     " ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING"},
    {"partition", "SELECT obs_ensure_day_partition($1, $2::date)"},
    {NULL, NULL},
};

static const char DELTA_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS wrk_delta (tenant text NOT NULL, session_id text NOT NULL, day date,"
    " project text, model text, os_user text, host text, in_session boolean NOT NULL DEFAULT false,"
    " in_daily boolean NOT NULL DEFAULT false, messages bigint NOT NULL DEFAULT 0, input bigint NOT NULL"
    " DEFAULT 0, output bigint NOT NULL DEFAULT 0, cc bigint NOT NULL DEFAULT 0, cr bigint NOT NULL DEFAULT "
    "0,"
    " cost numeric NOT NULL DEFAULT 0, sub_cost numeric NOT NULL DEFAULT 0, t_ev timestamptz,"
    " tc_from timestamptz) ON COMMIT DELETE ROWS";

/* The batch's events rows, COPYed in and inserted with one statement (see
 * bulk_events); i is the record's index in the batch. Text columns: the
 * INSERT converts them as the parameters of ins_event would be. */
static const char EV_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS wrk_ev (i int NOT NULL, tenant text, event_id text, event_time text,"
    " time_inferred text, session_id text, host text, os_user text, source_path text, file_id text,"
    " source_offset text, type text, subtype text, uuid text, parent_uuid text, is_sidechain text,"
    " agent_id text, message_id text, request_id text, model text, cwd text, git_branch text,"
    " agent_version text, is_error text, input_tokens text, output_tokens text, cache_creation_tokens text,"
    " cache_read_tokens text, text_content text, observed_time text, raw text) ON COMMIT DELETE ROWS";

/* The batch's tool_use blocks (of bulk records); r_*: the batch's result
 * for the call when bulk_tools paired them (NULL otherwise). */
static const char TU_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS wrk_tu (i int NOT NULL, tenant text, tool_use_id text, event_time text,"
    " session_id text, event_id text, tool_name text, tool_category text, is_sidechain text,"
    " input_summary text, path text, action text, ins text, r_time text, r_err text, r_excerpt text)"
    " ON COMMIT DELETE ROWS";

/* The batch's results whose use is in the batch (see bulk_results). */
static const char TR_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS wrk_tr (i int NOT NULL, tenant text, tool_use_id text, session_id text,"
    " use_time text, result_time text, is_error text, error_excerpt text) ON COMMIT DELETE ROWS";

/* The batch's usage rows (ADR 0022): one row per usage key, reduced in C
 * with wrk_usage_should_replace in batch order, then compared against the
 * stored row with the same rule in SQL (US_SQL). total is wrk_usage_total. */
static const char US_DDL[] =
    "CREATE TEMP TABLE IF NOT EXISTS wrk_us (i int NOT NULL, tenant text, usage_key text, message_id text,"
    " request_id text, session_id text, event_id text, event_time text, model text, project text,"
    " os_user text, host text, is_sidechain text, input_tokens text, output_tokens text,"
    " cache_creation_tokens text, cache_creation_5m_tokens text, cache_creation_1h_tokens text,"
    " cache_read_tokens text, has_speed text, cost_usd text, price_version text, source_path text,"
    " source_offset text, total text, ins boolean NOT NULL DEFAULT false, chg boolean NOT NULL DEFAULT false)"
    " ON COMMIT DELETE ROWS";

/* The per-record ins_tool, apply_pending and ins_file as set statements,
 * in that order (see bulk_tools). A call whose result is in the batch is
 * inserted with it (ADR 0024, fourth pass): the same row TR_SQL would have
 * written, without the UPDATE and its trigger; the first statement returns
 * those calls. An earlier batch's pending result is not applied to such a
 * row (the batch's result is later and would overwrite it); a pending
 * result still leaves the pending table. Other results stay per record: a
 * join of a temp table against every tool_calls partition picked the
 * (tenant) prefix of an index and cost more than the per-record UPDATEs. */
static const char *const TOOL_SQL[] = {
    "WITH i AS (INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name, "
    "tool_category,"
    " is_sidechain, input_summary, result_time, is_error, error_excerpt, duration_ms)"
    " SELECT tenant, tool_use_id, event_time::timestamptz, session_id, event_id,"
    " tool_name, tool_category, is_sidechain::boolean, input_summary, r_time::timestamptz, r_err::boolean,"
    " r_excerpt, CASE WHEN r_time IS NOT NULL THEN GREATEST(0, (extract(epoch FROM r_time::timestamptz"
    " - event_time::timestamptz) * 1000)::bigint) END FROM wrk_tu ORDER BY i"
    " ON CONFLICT DO NOTHING RETURNING tenant, session_id, event_time, tool_use_id, result_time),"
    " m AS (" TC_MARK("i") ") SELECT tenant, tool_use_id FROM i WHERE result_time IS NOT NULL",
    "WITH p AS (DELETE FROM tool_results_pending tp USING (SELECT DISTINCT tenant, tool_use_id FROM wrk_tu) w"
    " WHERE tp.tenant = w.tenant AND tp.tool_use_id = w.tool_use_id"
    " RETURNING tp.tenant, tp.tool_use_id, tp.result_time, tp.is_error, tp.error_excerpt),"
    " u AS (UPDATE tool_calls t SET result_time = p.result_time, is_error = p.is_error,"
    " error_excerpt = p.error_excerpt,"
    " duration_ms = GREATEST(0, (extract(epoch FROM p.result_time - t.event_time) * 1000)::bigint)"
    " FROM p WHERE t.tenant = p.tenant AND t.tool_use_id = p.tool_use_id AND NOT EXISTS (SELECT 1 FROM "
    "wrk_tu w"
    " WHERE w.tenant = t.tenant AND w.tool_use_id = t.tool_use_id AND w.event_time::timestamptz = "
    "t.event_time"
    " AND w.r_time IS NOT NULL)"
    " RETURNING t.tenant, t.session_id, t.event_time)"
    " " TC_MARK("u"),
    "INSERT INTO session_files AS f (tenant, session_id, path, action, count)"
    " SELECT tenant, session_id, path, action, count(*) FROM wrk_tu"
    " WHERE ins = 't' AND action IS NOT NULL AND path <> '' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (tenant, session_id, path, action) DO UPDATE SET count = f.count + EXCLUDED.count",
    NULL};

/* Whether TOOL_SQL[1] has anything to do (one row or none). */
static const char PENDING_PROBE[] =
    "SELECT 1 FROM tool_results_pending tp WHERE EXISTS (SELECT 1 FROM wrk_tu w WHERE w.tenant = tp.tenant"
    " AND w.tool_use_id = tp.tool_use_id) LIMIT 1";

#define EV_INS_CTE                                                                                           \
    "ins AS (INSERT INTO events (tenant, event_id, event_time, time_inferred, session_id, host, "            \
    "os_user,"                                                                                               \
    " source_path, file_id, source_offset, type, subtype, uuid, parent_uuid, is_sidechain, agent_id,"        \
    " message_id, request_id, model, cwd, project, git_branch, agent_version, is_error, input_tokens,"       \
    " output_tokens, cache_creation_tokens, cache_read_tokens, text_content, observed_time, raw)"            \
    " SELECT tenant, event_id, event_time::timestamptz, time_inferred::boolean, session_id, host, os_user,"  \
    " source_path, file_id, source_offset::bigint, type, subtype, uuid, parent_uuid, is_sidechain::boolean," \
    " agent_id, message_id, request_id, model, cwd, cwd, git_branch, agent_version, is_error::boolean,"      \
    " input_tokens::bigint, output_tokens::bigint, cache_creation_tokens::bigint, "                          \
    "cache_read_tokens::bigint,"                                                                             \
    " text_content, observed_time::timestamptz, raw::jsonb FROM wrk_ev w"
#define EV_INSERT_HEAD "WITH " EV_INS_CTE
/* Rows with a real event time: the key decides. */
static const char EV_INSERT[] = EV_INSERT_HEAD
    " WHERE w.time_inferred = 'f' ORDER BY i ON CONFLICT DO NOTHING RETURNING tenant, event_id)"
    " SELECT min(w.i) FROM ins JOIN wrk_ev w ON w.tenant = ins.tenant AND w.event_id = ins.event_id"
    " AND w.time_inferred = 'f' GROUP BY ins.tenant, ins.event_id";
/* Rows with an inferred time (the observed time is part of the key): a
 * line read again later gets a new observed time, so the event id decides:
 * each row first claims its key in events_inferred_keys (migration 0010),
 * in key order (workers lock keys in one order), and only the claimed rows
 * are inserted. The batch's copies of one event id are reduced to the first
 * in C. */
static const char EV_INSERT_INF[] =
    "WITH k AS (INSERT INTO events_inferred_keys (tenant, event_id, event_time)"
    " SELECT tenant, event_id, event_time::timestamptz FROM wrk_ev WHERE time_inferred = 't'"
    " ORDER BY tenant, event_id ON CONFLICT DO NOTHING RETURNING tenant, event_id), " EV_INS_CTE
    " WHERE w.time_inferred = 't' AND EXISTS (SELECT 1 FROM k WHERE k.tenant = w.tenant"
    " AND k.event_id = w.event_id)"
    " ORDER BY i ON CONFLICT DO NOTHING RETURNING tenant, event_id)"
    " SELECT tenant, event_id FROM ins"; /* keys back to records in C */

static int simple(struct wrk_store *st, const char *sql, char *errstr, size_t errlen);

/* ---- connection ------------------------------------------------------------ */

struct wrk_store *wrk_store_create(const char *url, const struct wrk_prices *prices) {
    struct wrk_store *st = calloc(1, sizeof(*st));
    if (!st) return NULL;
    st->url = strdup(url ? url : "");
    st->prices = prices;
    const char *iv = getenv("OBS_INSIGHTS_OUTLIER_INTERVAL_MS");
    st->outlier_interval_ms = iv && *iv ? strtoll(iv, NULL, 10) : 60000;
    if (!st->url) {
        free(st);
        return NULL;
    }
    return st;
}

void wrk_store_disconnect(struct wrk_store *st) {
    if (st && st->conn) {
        PQfinish(st->conn);
        st->conn = NULL;
    }
}

void wrk_store_destroy(struct wrk_store *st) {
    if (!st) return;
    wrk_store_disconnect(st);
    for (size_t i = 0; i < st->nout; i++)
        free(st->out[i].tenant);
    for (size_t i = 0; i < st->napplied; i++)
        free(st->applied[i]);
    free(st->applied);
    free(st->url);
    free(st);
}

int wrk_store_connected(const struct wrk_store *st) {
    return st && st->conn && PQstatus(st->conn) == CONNECTION_OK;
}

int wrk_store_connect(struct wrk_store *st, char *errstr, size_t errlen) {
    wrk_store_disconnect(st);
    st->conn = obs_pg_connect(st->url, "obs-worker", 5, errstr, errlen);
    if (!st->conn) return -1;
    /* Per-batch roll-up deltas (see "usage_delta"); emptied by every COMMIT. */
    if (simple(st, DELTA_DDL, errstr, errlen) < 0 || simple(st, EV_DDL, errstr, errlen) < 0 ||
        simple(st, TU_DDL, errstr, errlen) < 0 || simple(st, US_DDL, errstr, errlen) < 0 ||
        simple(st, TR_DDL, errstr, errlen) < 0) {
        wrk_store_disconnect(st);
        return -1;
    }
    for (const struct stmt *s = STMTS; s->name; s++) {
        PGresult *r = PQprepare(st->conn, s->name, s->sql, 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) snprintf(errstr, errlen, "prepare %s: %s", s->name, PQresultErrorMessage(r));
        PQclear(r);
        if (!ok) {
            wrk_store_disconnect(st);
            return -1;
        }
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/* Run a prepared statement with text parameters (NULL = SQL NULL). */
static PGresult *run(struct wrk_store *st, const char *name, int n, const char *const *vals) {
    return PQexecPrepared(st->conn, name, n, vals, NULL, NULL, 0);
}

static int res_ok(const PGresult *r) {
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Failure class: 1 = the record's content (data exception, constraint,
 * program limit); 0 = anything else (connection, deadlock, ...: retry). */
static int content_error(const PGresult *r) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state) return 0;
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 || strncmp(state, "54", 2) == 0;
}

static void errmsg(struct wrk_store *st, const PGresult *r, const char *what, char *errstr, size_t errlen) {
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m) m = PQerrorMessage(st->conn);
    snprintf(errstr, errlen, "%s: %s", what, m);
    for (char *p = errstr; *p; p++)
        if (*p == '\n') *p = ' ';
}

static int simple(struct wrk_store *st, const char *sql, char *errstr, size_t errlen) {
    return obs_pg_exec(st->conn, sql, errstr, errlen);
}

static void iso(int64_t ms, char *buf) { obs_format_iso8601_ms(ms, buf, 32); }

static const char *tf(int b) { return b ? "t" : "f"; }

/* Tool category from its name. */
static const char *tool_category(const char *name) {
    static const struct {
        const char *name, *cat;
    } map[] = {{"Read", "read"},        {"Glob", "search"},       {"Grep", "search"},
               {"LS", "read"},          {"Edit", "edit"},         {"MultiEdit", "edit"},
               {"Write", "edit"},       {"NotebookEdit", "edit"}, {"Bash", "shell"},
               {"BashOutput", "shell"}, {"KillShell", "shell"},   {"WebFetch", "web"},
               {"WebSearch", "web"},    {"Task", "agent"},        {"Agent", "agent"},
               {"TodoWrite", "plan"},   {"ExitPlanMode", "plan"}, {NULL, NULL}};
    if (!name) return "other";
    if (strncmp(name, "mcp__", 5) == 0) return "mcp";
    for (int i = 0; map[i].name; i++)
        if (strcmp(map[i].name, name) == 0) return map[i].cat;
    return "other";
}

/* ---- records -------------------------------------------------------------------- */

static char *dupn(const char *s) { return s ? strdup(s) : NULL; }

void wrk_rec_prepare(struct obs_codec *codec, struct wrk_rec *rec) {
    char err[512];
    struct obs_event ev;
    if (obs_codec_decode(codec, rec->value, rec->value_len, &ev, err, sizeof(err)) != 0) {
        char buf[600];
        snprintf(buf, sizeof(buf), "avro: %s", err);
        rec->poison = strdup(buf);
        return;
    }
    rec->ev = ev;
    rec->ev.event_id = dupn(ev.event_id);
    rec->ev.tenant = dupn(ev.tenant);
    rec->ev.host = dupn(ev.host);
    rec->ev.user = dupn(ev.user);
    rec->ev.source_path = dupn(ev.source_path);
    rec->ev.file_id = dupn(ev.file_id);
    rec->ev.session_id = dupn(ev.session_id);
    rec->ev.agent = dupn(ev.agent);
    rec->ev.agent_version = dupn(ev.agent_version);
    rec->ev.producer_version = dupn(ev.producer_version);
    rec->ev.payload = NULL;
    rec->decoded = 1;
    if (wrk_line_parse(ev.payload, ev.payload_len, &rec->line, err, sizeof(err)) != 0) {
        rec->poison = strdup(err);
        return;
    }
    rec->parsed = 1;
}

void wrk_rec_clear(struct wrk_rec *rec) {
    if (!rec) return;
    if (rec->decoded) {
        free((char *)rec->ev.event_id);
        free((char *)rec->ev.tenant);
        free((char *)rec->ev.host);
        free((char *)rec->ev.user);
        free((char *)rec->ev.source_path);
        free((char *)rec->ev.file_id);
        free((char *)rec->ev.session_id);
        free((char *)rec->ev.agent);
        free((char *)rec->ev.agent_version);
        free((char *)rec->ev.producer_version);
    }
    if (rec->parsed) wrk_line_free(&rec->line);
    free(rec->poison);
    memset(rec, 0, sizeof(*rec));
}

/* The event time of a record: the line's timestamp, else the envelope's,
 * else the observed time (inferred). */
static int64_t rec_time(const struct wrk_rec *rec, int *inferred) {
    *inferred = 0;
    if (rec->line.time_ms != INT64_MIN) return rec->line.time_ms;
    if (rec->ev.event_time_ms != OBS_EVENT_TIME_NULL) return rec->ev.event_time_ms;
    *inferred = 1;
    return rec->ev.observed_time_ms;
}

/* ---- sessions accumulator ----------------------------------------------------------- */

struct sess {
    const char *tenant, *session_id, *host, *user; /* borrowed from a record */
    const char *cwd;                               /* cwd of the earliest new line that has one */
    int64_t cwd_time;                              /* its time */
    const char *branch;                            /* gitBranch of the latest new line that has one */
    int64_t branch_time;                           /* its time */
    const char *version;                           /* version of the latest new line that has one */
    int64_t version_time;                          /* its time */
    const char *title;                             /* the last summary in Kafka order */
    int64_t first, last;                           /* min/max time of new lines with a real timestamp */
    int64_t ifirst, ilast;                         /* min/max inferred (observed) time of the others */
    long events;                                   /* new lines */
    long user_messages;                            /* see wrk_count_line */
    long tool_calls;                               /* tool_use blocks of new lines */
    long tool_errors;                              /* is_error tool_result blocks of new lines */
    long api_errors;                               /* new isApiErrorMessage lines */
    long interruptions;                            /* new "[Request interrupted by user" lines */
};

static struct sess *sess_get(struct sess *ss, size_t *n, const struct wrk_rec *rec) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp(ss[i].session_id, rec->ev.session_id) == 0 && strcmp(ss[i].tenant, rec->ev.tenant) == 0)
            return &ss[i];
    struct sess *s = &ss[(*n)++];
    memset(s, 0, sizeof(*s));
    s->tenant = rec->ev.tenant;
    s->session_id = rec->ev.session_id;
    s->host = rec->ev.host;
    s->user = rec->ev.user;
    s->first = s->ifirst = INT64_MAX;
    s->last = s->ilast = INT64_MIN;
    return s;
}

static void sess_add(struct sess *s, const struct wrk_rec *rec, int64_t t, int inferred) {
    const struct wrk_line *ln = &rec->line;
    s->events++;
    struct wrk_line_counts c;
    wrk_line_count(ln, &c);
    s->user_messages += c.user_message;
    s->tool_calls += c.tool_calls;
    s->tool_errors += c.tool_errors;
    s->api_errors += c.api_error;
    s->interruptions += c.interruption;
    if (ln->summary) s->title = ln->summary;
    if (inferred) {
        if (t < s->ifirst) s->ifirst = t;
        if (t > s->ilast) s->ilast = t;
        return;
    }
    if (t < s->first) s->first = t;
    if (t > s->last) s->last = t;
    if (ln->cwd && *ln->cwd && (!s->cwd || t < s->cwd_time)) s->cwd = ln->cwd, s->cwd_time = t;
    if (ln->git_branch && *ln->git_branch && (!s->branch || t >= s->branch_time))
        s->branch = ln->git_branch, s->branch_time = t;
    if (ln->version && (!s->version || t >= s->version_time)) s->version = ln->version, s->version_time = t;
}

static int sess_cmp(const void *a, const void *b) {
    const struct sess *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    return c ? c : strcmp(x->session_id, y->session_id);
}

/* ---- one record ------------------------------------------------------------------------ */

#define FAIL(r, what)                                                                                        \
    do {                                                                                                     \
        errmsg(st, r, what, errstr, errlen);                                                                 \
        *is_content = content_error(r);                                                                      \
        PQclear(r);                                                                                          \
        return -1;                                                                                           \
    } while (0)

/* A usage row as wrk_usage_should_replace compares it. */
static void ucopy(const struct wrk_rec *rec, struct wrk_usage_copy *c) {
    c->is_sidechain = rec->line.is_sidechain;
    c->total = wrk_usage_total(&rec->line.usage);
    c->has_speed = rec->line.usage.has_speed;
    c->source_path = rec->ev.source_path;
    c->source_offset = rec->ev.source_offset;
}

/* A message_usage row's values, in the column order of ins_usage (and of
 * wrk_us after its index): the per-record and the bulk path format them
 * here, once. */
struct uvals {
    char in[24], out[24], cc[24], c5[24], c1[24], cr[24], cost[40], off[24];
    const char *v[23];
};

static void usage_values(const struct wrk_store *st, const struct wrk_rec *rec, const char *key,
                         const char *t_iso, struct uvals *x) {
    const struct wrk_line *ln = &rec->line;
    const struct wrk_usage *u = &ln->usage;
    snprintf(x->in, sizeof(x->in), "%" PRId64, u->input);
    snprintf(x->out, sizeof(x->out), "%" PRId64, u->output);
    snprintf(x->cc, sizeof(x->cc), "%" PRId64, u->cache_creation);
    snprintf(x->c5, sizeof(x->c5), "%" PRId64, u->cache_5m);
    snprintf(x->c1, sizeof(x->c1), "%" PRId64, u->cache_1h);
    snprintf(x->cr, sizeof(x->cr), "%" PRId64, u->cache_read);
    snprintf(x->cost, sizeof(x->cost), "%.12f", wrk_usage_cost(st->prices, ln->model, u));
    snprintf(x->off, sizeof(x->off), "%" PRId64, rec->ev.source_offset);
    const char *v[23] = {rec->ev.tenant,
                         key,
                         ln->message_id ? ln->message_id : "",
                         ln->request_id,
                         rec->ev.session_id,
                         rec->ev.event_id,
                         t_iso,
                         ln->model,
                         ln->cwd,
                         rec->ev.user,
                         rec->ev.host,
                         tf(ln->is_sidechain),
                         x->in,
                         x->out,
                         x->cc,
                         x->c5,
                         x->c1,
                         x->cr,
                         tf(u->has_speed),
                         x->cost,
                         st->prices->version,
                         rec->ev.source_path,
                         x->off};
    memcpy(x->v, v, sizeof(v));
}

static int store_usage(struct wrk_store *st, struct wrk_rec *rec, const char *t_iso, char *errstr,
                       size_t errlen, int *is_content, struct wrk_store_stats *stats) {
    const struct wrk_line *ln = &rec->line;
    char key[1024];
    struct uvals x;
    wrk_usage_key(ln->message_id, ln->request_id, rec->ev.event_id, key, sizeof(key));
    usage_values(st, rec, key, t_iso, &x);
    const char *const *v = x.v;
    PGresult *r = run(st, "ins_usage", 23, v);
    if (!res_ok(r)) FAIL(r, "insert message_usage");
    int inserted = PQntuples(r) > 0;
    PQclear(r);
    int changed = inserted;
    if (!inserted) {
        const char *gv[2] = {rec->ev.tenant, key};
        r = run(st, "get_usage", 2, gv);
        if (!res_ok(r)) FAIL(r, "select message_usage");
        if (PQntuples(r) == 1) {
            struct wrk_usage_copy kept = {
                .is_sidechain = PQgetvalue(r, 0, 0)[0] == 't',
                .total = strtoll(PQgetvalue(r, 0, 1), NULL, 10),
                .has_speed = PQgetvalue(r, 0, 2)[0] == 't',
                .source_path = PQgetisnull(r, 0, 3) ? "\x7f" : PQgetvalue(r, 0, 3),
                .source_offset = PQgetisnull(r, 0, 4) ? INT64_MAX : strtoll(PQgetvalue(r, 0, 4), NULL, 10)};
            struct wrk_usage_copy cand;
            ucopy(rec, &cand);
            changed = wrk_usage_should_replace(&cand, &kept);
        }
        PQclear(r);
        if (changed) {
            const char *dv[3] = {rec->ev.tenant, key, "-1"};
            r = run(st, "usage_delta", 3, dv);
            if (!res_ok(r)) FAIL(r, "usage delta");
            PQclear(r);
            r = run(st, "upd_usage", 23, v);
            if (!res_ok(r)) FAIL(r, "update message_usage");
            PQclear(r);
        }
    }
    if (!changed) return 0;
    stats->usage_kept++;
    int others = !ln->is_sidechain && ln->message_id;
    const char *fv[5] = {rec->ev.tenant, key, tf(others), others ? ln->message_id : NULL,
                         others ? ln->request_id : NULL};
    r = run(st, "usage_final", 5, fv);
    if (!res_ok(r)) FAIL(r, "usage final");
    PQclear(r);
    return 0;
}

/* Text values of a record's events row (the ins_event parameters, in order). */
struct evbuf {
    char t_iso[32], obs_iso[32], off[24], in[24], out[24], cc[24], cr[24];
};

static void ev_values(const struct wrk_rec *rec, struct evbuf *b, const char *v[30]) {
    const struct wrk_line *ln = &rec->line;
    const struct obs_event *ev = &rec->ev;
    int inferred;
    int64_t t = rec_time(rec, &inferred);
    iso(t, b->t_iso);
    iso(ev->observed_time_ms, b->obs_iso);
    snprintf(b->off, sizeof(b->off), "%" PRId64, ev->source_offset);
    int hu = ln->has_usage;
    if (hu) {
        snprintf(b->in, sizeof(b->in), "%" PRId64, ln->usage.input);
        snprintf(b->out, sizeof(b->out), "%" PRId64, ln->usage.output);
        snprintf(b->cc, sizeof(b->cc), "%" PRId64, ln->usage.cache_creation);
        snprintf(b->cr, sizeof(b->cr), "%" PRId64, ln->usage.cache_read);
    }
    const char *agent_version = ln->version ? ln->version : ev->agent_version;
    const char *vals[30] = {
        ev->tenant,        ev->event_id,      b->t_iso,         tf(inferred),      ev->session_id,
        ev->host,          ev->user,          ev->source_path,  ev->file_id,       b->off,
        ln->type,          ln->subtype,       ln->uuid,         ln->parent_uuid,   tf(ln->is_sidechain),
        ln->agent_id,      ln->message_id,    ln->request_id,   ln->model,         ln->cwd,
        ln->git_branch,    agent_version,     tf(ln->is_error), hu ? b->in : NULL, hu ? b->out : NULL,
        hu ? b->cc : NULL, hu ? b->cr : NULL, ln->text,         b->obs_iso,        ln->raw_json};
    memcpy(v, vals, sizeof(vals));
}

/* Write one record (events unless bulk: the bulk path already inserted its
 * row and set rec->inserted; tool calls, usage). -1 with errstr and
 * *is_content on failure. */
static int store_rec(struct wrk_store *st, struct wrk_rec *rec, int bulk, char *defer, char *errstr,
                     size_t errlen, int *is_content, struct wrk_store_stats *stats) {
    const struct wrk_line *ln = &rec->line;
    const struct obs_event *ev = &rec->ev;
    int inferred;
    int64_t t = rec_time(rec, &inferred);
    struct evbuf b;
    const char *v[30];
    ev_values(rec, &b, v);
    const char *t_iso = b.t_iso;
    PGresult *r;
    if (bulk) goto rest;
    rec->inserted = 0;
    if (inferred) {
        /* event_time is part of the key: a line without a timestamp that was
         * read again later would get a new observed time. */
        const char *xv[3] = {ev->tenant, ev->event_id, t_iso};
        r = run(st, "inf_key", 3, xv);
        if (!res_ok(r)) FAIL(r, "claim inferred event key");
        int found = PQntuples(r) == 0;
        PQclear(r);
        if (found) return 0;
    }
    r = run(st, "ins_event", 30, v);
    if (!res_ok(r)) FAIL(r, "insert event");
    rec->inserted = PQntuples(r) > 0;
    PQclear(r);
rest:
    (void)t;
    if (bulk) goto usage; /* tool uses went through bulk_tools, results go through bulk_results */

    for (size_t i = 0; i < ln->nuses; i++) {
        const struct wrk_tool_use *tu = &ln->uses[i];
        const char *tv[9] = {ev->tenant,
                             tu->id,
                             t_iso,
                             ev->session_id,
                             ev->event_id,
                             tu->name,
                             tool_category(tu->name),
                             tf(ln->is_sidechain),
                             tu->summary};
        r = run(st, "ins_tool", 9, tv);
        if (!res_ok(r)) FAIL(r, "insert tool_call");
        PQclear(r);
        const char *pv[2] = {ev->tenant, tu->id};
        r = run(st, "apply_pending", 2, pv);
        if (!res_ok(r)) FAIL(r, "apply pending result");
        PQclear(r);
        const char *action = wrk_file_action(tu->name);
        if (rec->inserted && action && tu->path && *tu->path) {
            const char *fv[4] = {ev->tenant, ev->session_id, tu->path, action};
            r = run(st, "ins_file", 4, fv);
            if (!res_ok(r)) FAIL(r, "insert session_file");
            PQclear(r);
        }
    }
    for (size_t i = 0; i < ln->nresults; i++) {
        const struct wrk_tool_result *tr = &ln->results[i];
        const char *uv[5] = {ev->tenant, tr->tool_use_id, t_iso, tf(tr->is_error), tr->excerpt};
        r = run(st, "upd_result", 5, uv);
        if (!res_ok(r)) FAIL(r, "update tool result");
        int found = PQntuples(r) > 0;
        PQclear(r);
        if (!found) {
            const char *pv[6] = {ev->tenant, tr->tool_use_id,  ev->session_id,
                                 t_iso,      tf(tr->is_error), tr->excerpt};
            r = run(st, "ins_pending", 6, pv);
            if (!res_ok(r)) FAIL(r, "insert pending result");
            PQclear(r);
        }
    }
usage:
    if (ln->usage_countable && defer) {
        *defer = 1; /* bulk_usage, after the loop */
        return 0;
    }
    if (ln->usage_countable) return store_usage(st, rec, t_iso, errstr, errlen, is_content, stats);
    return 0;
}

static int ensure_day(struct wrk_store *st, int64_t ms, char *errstr, size_t errlen) {
    int64_t day = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    for (size_t i = 0; i < st->ndays; i++)
        if (st->days[i] == day) return 0;
    char d[32];
    obs_format_iso8601_ms(day * 86400000, d, sizeof(d));
    d[10] = '\0';
    static const char *const tables[] = {"events", "tool_calls"};
    for (int i = 0; i < 2; i++) {
        const char *v[2] = {tables[i], d};
        PGresult *r = run(st, "partition", 2, v);
        if (!res_ok(r)) {
            errmsg(st, r, "ensure partition", errstr, errlen);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    if (st->ndays < MAX_DAYS) st->days[st->ndays++] = day;
    return 0;
}

static int store_error(struct wrk_store *st, const struct wrk_rec *rec, char *errstr, size_t errlen) {
    char part[16], off[24], loff[24];
    snprintf(part, sizeof(part), "%d", (int)rec->partition);
    snprintf(off, sizeof(off), "%" PRId64, rec->offset);
    snprintf(loff, sizeof(loff), "%" PRId64, rec->ev.source_offset);
    size_t rl;
    char *reason = wrk_sanitize_utf8(rec->poison, strlen(rec->poison), &rl, NULL);
    const char *v[9] = {rec->decoded ? rec->ev.tenant : NULL,
                        rec->topic,
                        part,
                        off,
                        reason ? reason : "poison",
                        rec->decoded ? rec->ev.session_id : NULL,
                        rec->decoded ? rec->ev.source_path : NULL,
                        rec->decoded ? loff : NULL,
                        (const char *)rec->value};
    int lens[9] = {0, 0, 0, 0, 0, 0, 0, 0, (int)rec->value_len};
    int fmts[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
    PGresult *r = PQexecPrepared(st->conn, "ins_error", 9, v, lens, fmts, 0);
    free(reason);
    if (!res_ok(r)) {
        errmsg(st, r, "insert ingest_error", errstr, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

/* Roll-ups at the end of the batch, after the sessions upsert: the usage
 * deltas into sessions and daily_usage (rows locked in key order), then
 * obs_session_derive for every touched session, then the tenant's
 * cost_outlier insights when they are due. */
static int apply_rollups(struct wrk_store *st, const struct sess *ss, size_t nss, char *errstr,
                         size_t errlen) {
    static const char *const steps[] = {"apply_sessions", "apply_daily", "derive"};
    for (int i = 0; i < 3; i++) {
        PGresult *r = run(st, steps[i], 0, NULL);
        if (!res_ok(r)) {
            errmsg(st, r, steps[i], errstr, errlen);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    int64_t now = obs_now_ms();
    for (size_t i = 0; i < nss; i++) {
        size_t k;
        for (k = 0; k < st->nout; k++)
            if (strcmp(st->out[k].tenant, ss[i].tenant) == 0) break;
        if (k == st->nout) {
            if (st->nout == MAX_TENANTS) continue;
            char *t = strdup(ss[i].tenant);
            if (!t) continue;
            st->out[k].tenant = t;
            st->out[k].last_ms = INT64_MIN;
            st->nout++;
        }
        if (st->out[k].last_ms != INT64_MIN && now - st->out[k].last_ms < st->outlier_interval_ms) continue;
        const char *v[1] = {ss[i].tenant};
        PGresult *r = run(st, "outliers", 1, v);
        if (!res_ok(r)) {
            errmsg(st, r, "cost outliers", errstr, errlen);
            PQclear(r);
            return -1;
        }
        PQclear(r);
        st->out[k].last_ms = now; /* a rolled-back batch only delays the next run */
    }
    return 0;
}

/* ---- bulk events ----------------------------------------------------------------------------- */

struct cbuf {
    char *p;
    size_t len, cap;
};

static int cb_reserve(struct cbuf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Append one COPY text field (NULL as \N), escaped, then sep. */
static int cb_field(struct cbuf *b, const char *s, char sep) {
    size_t n = s ? strlen(s) : 0;
    if (cb_reserve(b, 2 * n + 4) < 0) return -1;
    if (!s) {
        b->p[b->len++] = '\\';
        b->p[b->len++] = 'N';
    } else {
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            switch (c) {
            case '\\':
                b->p[b->len++] = '\\', b->p[b->len++] = '\\';
                break;
            case '\t':
                b->p[b->len++] = '\\', b->p[b->len++] = 't';
                break;
            case '\n':
                b->p[b->len++] = '\\', b->p[b->len++] = 'n';
                break;
            case '\r':
                b->p[b->len++] = '\\', b->p[b->len++] = 'r';
                break;
            default:
                b->p[b->len++] = c;
            }
        }
    }
    b->p[b->len++] = sep;
    return 0;
}

/* COPY b into a temp table (sql: "COPY t FROM STDIN"). */
static int copy_in(struct wrk_store *st, const char *sql, const struct cbuf *b, char *errstr, size_t errlen,
                   int *is_content) {
    PGresult *r = PQexec(st->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        errmsg(st, r, "copy", errstr, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int ok = PQputCopyData(st->conn, b->p, (int)b->len) == 1;
    if (PQputCopyEnd(st->conn, ok ? NULL : "client error") != 1) ok = 0;
    int failed = 0;
    while ((r = PQgetResult(st->conn))) {
        if (!failed && PQresultStatus(r) != PGRES_COMMAND_OK) {
            errmsg(st, r, "copy", errstr, errlen);
            *is_content = content_error(r);
            failed = 1;
        }
        PQclear(r);
    }
    if (!ok && !failed) snprintf(errstr, errlen, "copy: %s", PQerrorMessage(st->conn));
    return ok && !failed ? 0 : -1;
}

/* Append record i's events row: as a wrk_ev row (index first) or, direct,
 * in the column order of EV_COPY. */
static int ev_row(struct cbuf *b, const struct wrk_rec *rec, size_t i, int direct) {
    struct evbuf eb;
    const char *v[30];
    ev_values(rec, &eb, v);
    if (!direct) {
        char idx[24];
        snprintf(idx, sizeof(idx), "%zu", i);
        if (cb_field(b, idx, '\t') < 0) return -1;
    }
    for (int k = 0; k < 30; k++) {
        if (cb_field(b, v[k], k == 29 ? '\n' : '\t') < 0) return -1;
        if (direct && k == 19 && cb_field(b, v[k], '\t') < 0) return -1; /* project = cwd */
    }
    return 0;
}

static const char EV_COPY[] =
    "COPY events (tenant, event_id, event_time, time_inferred, session_id, host, os_user, source_path, "
    "file_id,"
    " source_offset, type, subtype, uuid, parent_uuid, is_sidechain, agent_id, message_id, request_id, model,"
    " cwd, project, git_branch, agent_version, is_error, input_tokens, output_tokens, cache_creation_tokens,"
    " cache_read_tokens, text_content, observed_time, raw) FROM STDIN";

/* The events rows with a real event time (records i with want[i]) straight
 * into events with COPY, inside a savepoint: 0 (all new), 1 when a key is
 * stored already (unique violation: rolled back to the savepoint, the
 * caller takes the keyed insert), -2 out of memory, -1 with errstr and
 * *is_content. A redelivered batch costs one failed COPY; a new one skips
 * the temp table and ON CONFLICT. The rows are formatted while the COPY
 * runs and sent every COPY_CHUNK bytes, so PostgreSQL stores the first rows
 * while the rest are formatted (sampling pg_stat_activity had the backend
 * idle in the transaction ~5 % of the time while one 4000-row buffer was
 * formatted before the COPY started). */
#define COPY_CHUNK (256 * 1024)
static int copy_direct(struct wrk_store *st, const struct wrk_rec *recs, size_t n, const char *want,
                       char *errstr, size_t errlen, int *is_content) {
    if (simple(st, "SAVEPOINT ev", errstr, errlen) < 0) return -1;
    PGresult *r = PQexec(st->conn, EV_COPY);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        errmsg(st, r, "copy events", errstr, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    struct cbuf d = {0};
    int ok = 1, oom = 0;
    for (size_t i = 0; i < n && ok; i++) {
        if (!want[i]) continue;
        if (ev_row(&d, &recs[i], i, 1) < 0) {
            ok = 0, oom = 1;
            break;
        }
        if (d.len >= COPY_CHUNK) {
            ok = PQputCopyData(st->conn, d.p, (int)d.len) == 1;
            d.len = 0;
        }
    }
    if (ok && d.len) ok = PQputCopyData(st->conn, d.p, (int)d.len) == 1;
    free(d.p);
    if (PQputCopyEnd(st->conn, ok ? NULL : "client error") != 1) ok = 0;
    int failed = 0, dup = 0;
    while ((r = PQgetResult(st->conn))) {
        if (!failed && PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            dup = state && strcmp(state, "23505") == 0;
            if (!dup) {
                errmsg(st, r, "copy events", errstr, errlen);
                *is_content = content_error(r);
            }
            failed = 1;
        }
        PQclear(r);
    }
    if (oom) return -2; /* the COPY ended with an error; the caller's goto oom rolls the batch back */
    if (!ok && !failed) {
        snprintf(errstr, errlen, "copy events: %s", PQerrorMessage(st->conn));
        return -1;
    }
    if (dup) return simple(st, "ROLLBACK TO SAVEPOINT ev", errstr, errlen) < 0 ? -1 : 1;
    if (failed) return -1;
    return simple(st, "RELEASE SAVEPOINT ev", errstr, errlen) < 0 ? -1 : 0;
}

/* Sort key for the inferred-time records of a batch. */
static const struct wrk_rec *g_sort_recs;
static int inf_cmp(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const struct obs_event *ex = &g_sort_recs[x].ev, *ey = &g_sort_recs[y].ev;
    int c = strcmp(ex->tenant ? ex->tenant : "", ey->tenant ? ey->tenant : "");
    if (!c) c = strcmp(ex->event_id ? ex->event_id : "", ey->event_id ? ey->event_id : "");
    return c ? c : (x < y ? -1 : x > y);
}

/* Run an insert of wrk_ev rows returning min(i) per new row; sets inserted. */
static int ev_insert(struct wrk_store *st, const char *sql, struct wrk_rec *recs, size_t n, char *errstr,
                     size_t errlen, int *is_content) {
    PGresult *r = PQexec(st->conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        errmsg(st, r, "insert events", errstr, errlen);
        *is_content = content_error(r);
        PQclear(r);
        return -1;
    }
    for (int k = 0; k < PQntuples(r); k++) {
        long i = strtol(PQgetvalue(r, k, 0), NULL, 10);
        if (i >= 0 && (size_t)i < n) recs[i].inserted = 1;
    }
    PQclear(r);
    return 0;
}

/* EV_INSERT_INF; the returned keys are found among the batch's inferred
 * records (inf: their indexes sorted by key, skip: the later copies). */
static int ev_insert_inf(struct wrk_store *st, struct wrk_rec *recs, const size_t *inf, size_t ninf,
                         const char *skip, char *errstr, size_t errlen, int *is_content) {
    PGresult *r = PQexec(st->conn, EV_INSERT_INF);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        errmsg(st, r, "insert events", errstr, errlen);
        *is_content = content_error(r);
        PQclear(r);
        return -1;
    }
    for (int k = 0; k < PQntuples(r); k++) {
        const char *tenant = PQgetvalue(r, k, 0), *id = PQgetvalue(r, k, 1);
        size_t lo = 0, hi = ninf;
        while (lo < hi) { /* first position whose key is >= (tenant, id) */
            size_t mid = lo + (hi - lo) / 2;
            const struct obs_event *e = &recs[inf[mid]].ev;
            int c = strcmp(e->tenant ? e->tenant : "", tenant);
            if (!c) c = strcmp(e->event_id ? e->event_id : "", id);
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < ninf && !skip[inf[lo]]) recs[inf[lo]].inserted = 1;
    }
    PQclear(r);
    return 0;
}

/* The events rows of the batch; sets rec->inserted and bulk[i] for every
 * record that is not poison. Rows with a real event time: COPY straight
 * into events (copy_direct); if a key is stored already, COPY into wrk_ev
 * and EV_INSERT (ON CONFLICT DO NOTHING). Rows with an inferred time: COPY
 * into wrk_ev and EV_INSERT_INF. Of several copies of one
 * inferred-time event id in the batch only the first is sent (record by
 * record, the later ones found it stored). -1 with errstr and *is_content
 * on failure. */
static int bulk_events(struct wrk_store *st, struct wrk_rec *recs, size_t n, char *bulk, char *errstr,
                       size_t errlen, int *is_content) {
    struct cbuf b = {0}; /* wrk_ev rows of inferred-time records (the others: copy_direct) */
    size_t ninf = 0, nreal = 0;
    size_t *inf = calloc(n ? n : 1, sizeof(*inf));
    char *skip = calloc(n ? n : 1, 1);
    char *real = calloc(n ? n : 1, 1); /* real[i]: record i's row goes to copy_direct */
    *is_content = 0;
    if (!inf || !skip || !real) goto oom;
    for (size_t i = 0; i < n; i++) {
        int inferred;
        if (recs[i].poison) continue;
        (void)rec_time(&recs[i], &inferred);
        if (inferred) inf[ninf++] = i;
    }
    g_sort_recs = recs;
    qsort(inf, ninf, sizeof(*inf), inf_cmp);
    for (size_t k = 1; k < ninf; k++)
        if (!strcmp(recs[inf[k]].ev.tenant ? recs[inf[k]].ev.tenant : "",
                    recs[inf[k - 1]].ev.tenant ? recs[inf[k - 1]].ev.tenant : "") &&
            !strcmp(recs[inf[k]].ev.event_id ? recs[inf[k]].ev.event_id : "",
                    recs[inf[k - 1]].ev.event_id ? recs[inf[k - 1]].ev.event_id : ""))
            skip[inf[k]] = 1; /* sorted by index within a key: the first stays */
    for (size_t i = 0; i < n; i++) {
        bulk[i] = 0;
        if (recs[i].poison) continue;
        bulk[i] = 1;
        recs[i].inserted = 0;
        if (skip[i]) continue;
        int inferred;
        (void)rec_time(&recs[i], &inferred);
        if (inferred && ev_row(&b, &recs[i], i, 0) < 0) goto oom;
        real[i] = !inferred;
        nreal += !inferred;
    }
    int rc = 0;
    if (nreal) {
        rc = copy_direct(st, recs, n, real, errstr, errlen, is_content);
        if (rc == -2) goto oom;
        if (rc == 0) {
            for (size_t i = 0; i < n; i++) {
                int inferred;
                if (!bulk[i] || skip[i]) continue;
                (void)rec_time(&recs[i], &inferred);
                if (!inferred) recs[i].inserted = 1;
            }
        } else if (rc == 1) { /* some row is stored already: the keyed insert */
            struct cbuf k = {0};
            rc = 0;
            for (size_t i = 0; i < n && rc == 0; i++) {
                int inferred;
                if (!bulk[i] || skip[i]) continue;
                (void)rec_time(&recs[i], &inferred);
                if (!inferred && ev_row(&k, &recs[i], i, 0) < 0) rc = -2;
            }
            if (rc == 0) rc = copy_in(st, "COPY wrk_ev FROM STDIN", &k, errstr, errlen, is_content);
            free(k.p);
            if (rc == -2) goto oom;
            if (rc == 0) rc = ev_insert(st, EV_INSERT, recs, n, errstr, errlen, is_content);
        }
    }
    if (rc == 0 && ninf) {
        rc = copy_in(st, "COPY wrk_ev FROM STDIN", &b, errstr, errlen, is_content);
        if (rc == 0) rc = ev_insert_inf(st, recs, inf, ninf, skip, errstr, errlen, is_content);
    }
    free(b.p);
    free(real);
    free(skip);
    free(inf);
    return rc;
oom:
    free(b.p);
    free(real);
    free(inf);
    free(skip);
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

/* A tool use of the batch: its id, session and the event time of its row. */
struct upair {
    const char *tenant, *id, *session;
    int64_t t;
    int amb;                         /* the batch holds this id at two times or in two sessions */
    const struct wrk_rec *rrec;      /* the batch's last result for it (first entry of an id only) */
    const struct wrk_tool_result *r; /* or NULL */
};

static int upair_key_cmp(const void *a, const void *b) {
    const struct upair *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    return c ? c : strcmp(x->id, y->id);
}

static int upair_cmp(const void *a, const void *b) {
    int c = upair_key_cmp(a, b);
    if (c) return c;
    const struct upair *x = a, *y = b;
    c = strcmp(x->session, y->session);
    return c ? c : (x->t < y->t ? -1 : x->t > y->t);
}

static int key_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The first use of (tenant, id) in uses (sorted), or NULL. */
static struct upair *use_find(struct upair *uses, size_t nu, const char *tenant, const char *id) {
    if (!id) return NULL;
    struct upair key = {tenant ? tenant : "", id, "", 0, 0, NULL, NULL};
    struct upair *u = bsearch(&key, uses, nu, sizeof(*uses), upair_key_cmp);
    while (u && u > uses && !upair_key_cmp(u - 1, &key))
        u--;
    return u;
}

/* The tool uses of the bulk records, sorted, ambiguous ids flagged, each
 * unambiguous use paired with the batch's last result for its id (in batch
 * order, whatever the order of use and result). *out is malloc'd; -1 when
 * out of memory. */
static int uses_collect(struct wrk_rec *recs, size_t n, const char *bulk, struct upair **out, size_t *nout) {
    size_t nuses = 0, nu = 0;
    for (size_t i = 0; i < n; i++)
        if (bulk[i]) nuses += recs[i].line.nuses;
    struct upair *uses = calloc(nuses ? nuses : 1, sizeof(*uses));
    if (!uses) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!bulk[i]) continue;
        int inferred;
        int64_t t = rec_time(&recs[i], &inferred);
        for (size_t k = 0; k < recs[i].line.nuses; k++) {
            if (!recs[i].line.uses[k].id) continue;
            uses[nu].tenant = recs[i].ev.tenant ? recs[i].ev.tenant : "";
            uses[nu].id = recs[i].line.uses[k].id;
            uses[nu].session = recs[i].ev.session_id ? recs[i].ev.session_id : "";
            uses[nu].t = t;
            nu++;
        }
    }
    qsort(uses, nu, sizeof(*uses), upair_cmp);
    for (size_t k = 1; k < nu; k++)
        if (!upair_key_cmp(&uses[k], &uses[k - 1]) &&
            (uses[k].t != uses[k - 1].t || strcmp(uses[k].session, uses[k - 1].session)))
            uses[k].amb = uses[k - 1].amb = 1;
    for (size_t k = nu; k-- > 1;) /* the whole run of an id */
        if (uses[k].amb && !upair_key_cmp(&uses[k], &uses[k - 1])) uses[k - 1].amb = 1;
    for (size_t i = 0; i < n; i++) {
        if (!bulk[i]) continue;
        for (size_t k = 0; k < recs[i].line.nresults; k++) {
            struct upair *u = use_find(uses, nu, recs[i].ev.tenant, recs[i].line.results[k].tool_use_id);
            if (u && !u->amb) u->rrec = &recs[i], u->r = &recs[i].line.results[k];
        }
    }
    *out = uses;
    *nout = nu;
    return 0;
}

/* The tool_use blocks of the bulk records (bulk[i]), after bulk_events:
 * COPYed into wrk_tu, then TOOL_SQL; their results follow record by record
 * (store_rec). Order within the batch does not change the outcome: a result
 * that precedes its use in the batch is parked as pending and picked up by
 * the use, as before. The pending join against the partitioned tool_calls is
 * a nested loop driven by the (usually empty) pending rows. */
static int bulk_tools(struct wrk_store *st, struct wrk_rec *recs, size_t n, const char *bulk, char *errstr,
                      size_t errlen, int *is_content) {
    struct cbuf u = {0};
    size_t nu = 0, nuses = 0;
    struct upair *uses = NULL;
    PGresult *res = NULL;
    *is_content = 0;
    for (size_t i = 0; i < st->napplied; i++)
        free(st->applied[i]);
    st->napplied = 0;
    if (uses_collect(recs, n, bulk, &uses, &nuses) < 0) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!bulk[i]) continue;
        const struct wrk_rec *rec = &recs[i];
        const struct wrk_line *ln = &rec->line;
        int inferred;
        char t_iso[32], idx[24];
        iso(rec_time(rec, &inferred), t_iso);
        snprintf(idx, sizeof(idx), "%zu", i);
        for (size_t k = 0; k < ln->nuses; k++) {
            const struct wrk_tool_use *tu = &ln->uses[k];
            const struct upair *p = use_find(uses, nuses, rec->ev.tenant, tu->id);
            char r_iso[32];
            if (p && p->r) iso(rec_time(p->rrec, &inferred), r_iso);
            const char *v[16] = {idx,
                                 rec->ev.tenant,
                                 tu->id,
                                 t_iso,
                                 rec->ev.session_id,
                                 rec->ev.event_id,
                                 tu->name,
                                 tool_category(tu->name),
                                 tf(ln->is_sidechain),
                                 tu->summary,
                                 tu->path,
                                 wrk_file_action(tu->name),
                                 tf(rec->inserted),
                                 p && p->r ? r_iso : NULL,
                                 p && p->r ? tf(p->r->is_error) : NULL,
                                 p && p->r ? p->r->excerpt : NULL};
            for (int c = 0; c < 16; c++)
                if (cb_field(&u, v[c], c == 15 ? '\n' : '\t') < 0) goto oom;
            nu++;
        }
    }
    free(uses);
    uses = NULL;
    int rc = 0;
    if (nu && copy_in(st, "COPY wrk_tu FROM STDIN", &u, errstr, errlen, is_content) < 0) rc = -1;
    free(u.p);
    if (rc < 0) return -1;
    if (!nu) return 0;
    /* pending results: their UPDATE is planned over every tool_calls
     * partition; it is skipped when the small pending table holds none of the
     * batch's ids (the usual case). Probed before the join settings below. */
    res = PQexec(st->conn, PENDING_PROBE);
    if (!res_ok(res)) {
        errmsg(st, res, "tool calls", errstr, errlen);
        PQclear(res);
        return -1;
    }
    int pending = PQntuples(res) > 0;
    PQclear(res);
    res = NULL;
    if (simple(st, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off", errstr, errlen) < 0)
        return -1;
    for (int k = 0; TOOL_SQL[k]; k++) {
        if (k == 1 && !pending) continue;
        res = PQexec(st->conn, TOOL_SQL[k]);
        if (!res_ok(res)) {
            errmsg(st, res, "tool calls", errstr, errlen);
            *is_content = content_error(res);
            PQclear(res);
            return -1;
        }
        if (k == 0) { /* the calls inserted with their result */
            int nt = PQntuples(res);
            char **a = realloc(st->applied, (nt ? (size_t)nt : 1) * sizeof(*a));
            if (!a) goto oom;
            st->applied = a;
            for (int j = 0; j < nt; j++) {
                if (asprintf(&st->applied[st->napplied], "%s\x1f%s", PQgetvalue(res, j, 0),
                             PQgetvalue(res, j, 1)) < 0)
                    goto oom;
                st->napplied++;
            }
            qsort(st->applied, st->napplied, sizeof(*st->applied), key_cmp);
        }
        PQclear(res);
        res = NULL;
    }
    return simple(st, "RESET enable_hashjoin; RESET enable_mergejoin", errstr, errlen);
oom:
    PQclear(res);
    free(uses);
    free(u.p);
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

/* ---- bulk results ---------------------------------------------------------------------------- */

#define PIPE_CHUNK 256 /* queries per sync: bounds what waits in the socket buffers */

/* The batch's results whose use is in the batch (one time, one session):
 * the last result per id, COPYed into wrk_tr with the use's key. Every
 * column of both tool_calls indexes that the join names is bound, so
 * whichever index the planner takes (young partitions have no statistics)
 * finds the row directly. */
static const char TR_SQL[] =
    "WITH u AS (UPDATE tool_calls t SET result_time = r.result_time, is_error = r.is_error,"
    " error_excerpt = r.error_excerpt,"
    " duration_ms = GREATEST(0, (extract(epoch FROM r.result_time - t.event_time) * 1000)::bigint)"
    " FROM (SELECT DISTINCT ON (tenant, tool_use_id) tenant, tool_use_id, session_id,"
    " use_time::timestamptz AS use_time, result_time::timestamptz AS result_time,"
    " is_error::boolean AS is_error, error_excerpt FROM wrk_tr ORDER BY tenant, tool_use_id, i DESC) r"
    " WHERE t.tenant = r.tenant AND t.session_id = r.session_id AND t.event_time = r.use_time"
    " AND t.tool_use_id = r.tool_use_id RETURNING t.tenant, t.tool_use_id, t.session_id, t.event_time),"
    " m AS (" TC_MARK("u") ") SELECT tenant, tool_use_id FROM u";

/* Read the results of the pipeline's queries [from, to) and its sync.
 * found[k] = 1 when query k returned a row. */
static int pipe_collect(struct wrk_store *st, size_t from, size_t to, char *found, char *errstr,
                        size_t errlen, int *is_content) {
    int rc = 0;
    for (size_t k = from; k < to; k++) {
        PGresult *r;
        while ((r = PQgetResult(st->conn))) {
            ExecStatusType s = PQresultStatus(r);
            if (s == PGRES_TUPLES_OK) {
                found[k] = PQntuples(r) > 0;
            } else if (rc == 0 && s != PGRES_PIPELINE_ABORTED) {
                errmsg(st, r, "update tool result", errstr, errlen);
                *is_content = content_error(r);
                rc = -1;
            } else if (s == PGRES_PIPELINE_ABORTED) {
                rc = -1;
            }
            PQclear(r);
        }
    }
    PGresult *r = PQgetResult(st->conn); /* the sync */
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC && rc == 0) {
        snprintf(errstr, errlen, "tool results: pipeline out of step: %s", PQerrorMessage(st->conn));
        rc = -1;
    }
    PQclear(r);
    if (rc < 0 && !*errstr) snprintf(errstr, errlen, "tool results: %s", PQerrorMessage(st->conn));
    return rc;
}

/* One tool_result block of the batch, in batch order. */
struct rres {
    const struct wrk_rec *rec;
    const struct wrk_tool_result *tr;
    size_t i;              /* record index */
    const struct upair *u; /* its use in the batch (unambiguous), or NULL */
    int found;             /* a tool_calls row took it */
};

/* The tool_result blocks of the bulk records, after every tool use of the
 * batch is stored. A result whose use is in the batch was written with the
 * call when bulk_tools inserted it (st->applied); when the call was stored
 * already, it goes through wrk_tr and TR_SQL (one statement). The others, and any such result whose row was
 * not found, run upd_result (every row of the id) in batch order in libpq
 * pipeline mode (no round trip each); the results still without a row are
 * parked as pending in batch order (the first one stays, as record by
 * record). A set-wise UPDATE on (tenant, tool_use_id) alone is not used: on
 * young partitions the planner probes the (tenant) prefix of the session
 * index and scans the tenant's rows per result (180 ms a batch).
 * -1 with errstr and *is_content on failure. */
static int bulk_results(struct wrk_store *st, struct wrk_rec *recs, size_t n, const char *bulk, char *errstr,
                        size_t errlen, int *is_content) {
    size_t total = 0, nu = 0, nr = 0, npaired = 0, nfound = 0;
    struct upair *uses = NULL;
    struct rres *res = NULL;
    char **found = NULL, *hit = NULL;
    struct cbuf b = {0};
    PGresult *r = NULL;
    int rc = -1;
    *is_content = 0;
    *errstr = 0;
    for (size_t i = 0; i < n; i++)
        if (bulk[i]) total += recs[i].line.nresults;
    if (!total) return 0;
    res = calloc(total, sizeof(*res));
    hit = calloc(total, 1);
    if (!res || !hit || uses_collect(recs, n, bulk, &uses, &nu) < 0) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!bulk[i]) continue;
        for (size_t k = 0; k < recs[i].line.nresults; k++) {
            struct rres *x = &res[nr++];
            x->rec = &recs[i];
            x->tr = &recs[i].line.results[k];
            x->i = i;
            const struct upair *u = use_find(uses, nu, recs[i].ev.tenant, x->tr->tool_use_id);
            if (u && !u->amb) x->u = u;
            if (x->u && st->napplied) { /* bulk_tools inserted the call with this id's result */
                char *key = NULL;
                if (asprintf(&key, "%s\x1f%s", x->u->tenant, x->u->id) < 0) goto oom;
                x->found = bsearch(&key, st->applied, st->napplied, sizeof(*st->applied), key_cmp) != NULL;
                free(key);
            }
        }
    }
    /* 1. results whose use is in the batch */
    for (size_t k = 0; k < nr; k++) {
        struct rres *x = &res[k];
        if (!x->u || x->found) continue;
        char idx[24], use_iso[32], t_iso[32];
        int inferred;
        snprintf(idx, sizeof(idx), "%zu", x->i);
        iso(x->u->t, use_iso);
        iso(rec_time(x->rec, &inferred), t_iso);
        const char *v[8] = {idx,   x->rec->ev.tenant,   x->tr->tool_use_id, x->u->session, use_iso,
                            t_iso, tf(x->tr->is_error), x->tr->excerpt};
        for (int c = 0; c < 8; c++)
            if (cb_field(&b, v[c], c == 7 ? '\n' : '\t') < 0) goto oom;
        npaired++;
    }
    if (npaired) {
        if (copy_in(st, "COPY wrk_tr FROM STDIN", &b, errstr, errlen, is_content) < 0) goto out;
        /* a nested loop from wrk_tr into each partition's index, never a
         * hash of whole partitions (the planner's guess for a temp table) */
        if (simple(st, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off", errstr, errlen) <
            0)
            goto out;
        r = PQexec(st->conn, TR_SQL);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            errmsg(st, r, "tool results", errstr, errlen);
            *is_content = content_error(r);
            goto out;
        }
        if (simple(st, "RESET enable_hashjoin; RESET enable_mergejoin", errstr, errlen) < 0) goto out;
        int nt = PQntuples(r);
        found = calloc(nt ? (size_t)nt : 1, sizeof(*found));
        if (!found) goto oom;
        for (int k = 0; k < nt; k++) {
            if (asprintf(&found[nfound], "%s\x1f%s", PQgetvalue(r, k, 0), PQgetvalue(r, k, 1)) < 0) goto oom;
            nfound++;
        }
        qsort(found, nfound, sizeof(*found), key_cmp);
        for (size_t k = 0; k < nr; k++) {
            struct rres *x = &res[k];
            if (!x->u || x->found) continue;
            char *key = NULL;
            if (asprintf(&key, "%s\x1f%s", x->u->tenant, x->u->id) < 0) goto oom;
            x->found = bsearch(&key, found, nfound, sizeof(*found), key_cmp) != NULL;
            free(key);
        }
    }
    /* 2. the others, every row of the id, pipelined in batch order */
    size_t nq = 0, from = 0, *qi = calloc(nr, sizeof(*qi));
    if (!qi) goto oom;
    for (size_t k = 0; k < nr; k++)
        if (!res[k].found) qi[nq++] = k;
    if (nq) {
        if (PQenterPipelineMode(st->conn) != 1) {
            snprintf(errstr, errlen, "tool results: pipeline mode: %s", PQerrorMessage(st->conn));
            free(qi);
            goto out;
        }
        int prc = 0;
        for (size_t q = 0; q < nq && prc == 0; q++) {
            struct rres *x = &res[qi[q]];
            int inferred;
            char t_iso[32];
            iso(rec_time(x->rec, &inferred), t_iso);
            const char *uv[5] = {x->rec->ev.tenant, x->tr->tool_use_id, t_iso, tf(x->tr->is_error),
                                 x->tr->excerpt};
            if (PQsendQueryPrepared(st->conn, "upd_result", 5, uv, NULL, NULL, 0) != 1) {
                snprintf(errstr, errlen, "tool results: send: %s", PQerrorMessage(st->conn));
                prc = -1;
                break;
            }
            if (q + 1 - from == PIPE_CHUNK || q + 1 == nq) {
                if (PQpipelineSync(st->conn) != 1) {
                    snprintf(errstr, errlen, "tool results: sync: %s", PQerrorMessage(st->conn));
                    prc = -1;
                    break;
                }
                prc = pipe_collect(st, from, q + 1, hit, errstr, errlen, is_content);
                from = q + 1;
            }
        }
        if (PQexitPipelineMode(st->conn) != 1 && prc == 0) {
            snprintf(errstr, errlen, "tool results: leave pipeline mode: %s", PQerrorMessage(st->conn));
            prc = -1;
        }
        if (prc < 0) {
            free(qi);
            goto out;
        }
    }
    /* 3. still without a row: pending, in batch order */
    for (size_t q = 0; q < nq; q++) {
        if (hit[q]) continue;
        const struct rres *x = &res[qi[q]];
        int inferred;
        char t_iso[32];
        iso(rec_time(x->rec, &inferred), t_iso);
        const char *pv[6] = {x->rec->ev.tenant,   x->tr->tool_use_id, x->rec->ev.session_id, t_iso,
                             tf(x->tr->is_error), x->tr->excerpt};
        PGresult *p = run(st, "ins_pending", 6, pv);
        if (!res_ok(p)) {
            errmsg(st, p, "insert pending result", errstr, errlen);
            *is_content = content_error(p);
            PQclear(p);
            free(qi);
            goto out;
        }
        PQclear(p);
    }
    free(qi);
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errlen, "out of memory");
out:
    PQclear(r);
    free(b.p);
    for (size_t k = 0; k < nfound; k++)
        free(found[k]);
    free(found);
    free(uses);
    free(res);
    free(hit);
    return rc;
}

/* ---- bulk usage ------------------------------------------------------------------------------ */

#define US_COLS                                                                                              \
    " message_id, request_id, session_id, event_id, event_time, model, project, os_user, host, "             \
    "is_sidechain,"                                                                                          \
    " input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens, "                        \
    "cache_creation_1h_tokens,"                                                                              \
    " cache_read_tokens, has_speed, cost_usd, price_version, source_path, source_offset"
#define US_VALS                                                                                              \
    " w.message_id, w.request_id, w.session_id, w.event_id, w.event_time::timestamptz, w.model, w.project,"  \
    " w.os_user, w.host, w.is_sidechain::boolean, w.input_tokens::bigint, w.output_tokens::bigint,"          \
    " w.cache_creation_tokens::bigint, w.cache_creation_5m_tokens::bigint,"                                  \
    " w.cache_creation_1h_tokens::bigint, w.cache_read_tokens::bigint, w.has_speed::boolean,"                \
    " w.cost_usd::numeric, w.price_version, w.source_path, w.source_offset::bigint"
/* wrk_usage_should_replace(candidate w, kept m), as get_usage reads m. */
#define US_REPLACE                                                                                           \
    " (CASE WHEN w.is_sidechain::boolean <> m.is_sidechain THEN m.is_sidechain"                              \
    " WHEN w.total::bigint <> coalesce(m.input_tokens + m.output_tokens + m.cache_creation_tokens"           \
    " + m.cache_read_tokens, 0) THEN w.total::bigint > coalesce(m.input_tokens + m.output_tokens"            \
    " + m.cache_creation_tokens + m.cache_read_tokens, 0)"                                                   \
    " WHEN w.has_speed::boolean <> m.has_speed THEN w.has_speed::boolean"                                    \
    " WHEN coalesce(w.source_path, '') COLLATE \"C\" <> coalesce(m.source_path, E'\\x7f') COLLATE \"C\""     \
    " THEN coalesce(w.source_path, '') COLLATE \"C\" < coalesce(m.source_path, E'\\x7f') COLLATE \"C\""      \
    " ELSE w.source_offset::bigint < coalesce(m.source_offset, 9223372036854775807) END)"
#define US_DELTA_COLS                                                                                        \
    " INSERT INTO wrk_delta (tenant, session_id, day, project, model, os_user, host, in_session, in_daily,"  \
    " messages, input, output, cc, cr, cost, sub_cost)"

/* ins_usage, get_usage (lock), usage_delta(-1) + upd_usage, usage_final as
 * set statements, in that order. */
static const char *const US_SQL[] = {
    "WITH i AS (INSERT INTO message_usage (tenant, usage_key," US_COLS
    ") SELECT w.tenant, w.usage_key," US_VALS
    " FROM wrk_us w ORDER BY w.tenant, w.usage_key ON CONFLICT DO NOTHING RETURNING tenant, usage_key)"
    " UPDATE wrk_us w SET ins = true, chg = true FROM i WHERE w.tenant = i.tenant AND w.usage_key = "
    "i.usage_key",
    "SELECT 1 FROM message_usage m JOIN wrk_us w ON m.tenant = w.tenant AND m.usage_key = w.usage_key"
    " WHERE NOT w.ins ORDER BY m.tenant, m.usage_key FOR UPDATE OF m",
    US_DELTA_COLS
    " SELECT m.tenant, m.session_id, (m.event_time AT TIME ZONE 'UTC')::date,"
    " coalesce(m.project, ''), coalesce(m.model, ''), m.os_user, m.host, true, NOT m.btw_replay, -1,"
    " -m.input_tokens, -m.output_tokens, -m.cache_creation_tokens, -m.cache_read_tokens, -m.cost_usd,"
    " CASE WHEN m.is_sidechain OR m.source_path LIKE '%/subagents/%' THEN -m.cost_usd ELSE 0 END"
    " FROM message_usage m JOIN wrk_us w ON m.tenant = w.tenant AND m.usage_key = w.usage_key"
    " WHERE NOT w.ins AND" US_REPLACE,
    "WITH u AS (UPDATE message_usage m SET (" US_COLS ") = (" US_VALS ") FROM wrk_us w"
    " WHERE m.tenant = w.tenant AND m.usage_key = w.usage_key AND NOT w.ins AND" US_REPLACE
    " RETURNING m.tenant, m.usage_key)"
    " UPDATE wrk_us w SET chg = true FROM u WHERE w.tenant = u.tenant AND w.usage_key = u.usage_key",
    /* the /btw flag of every kept row, written only where it changes */
    "UPDATE message_usage m SET btw_replay = NOT m.btw_replay FROM wrk_us w WHERE w.chg"
    " AND m.tenant = w.tenant AND m.usage_key = w.usage_key AND m.btw_replay <> (m.is_sidechain AND EXISTS"
    " (SELECT 1 FROM message_usage o WHERE o.tenant = m.tenant AND o.message_id = m.message_id"
    " AND NOT o.is_sidechain AND o.request_id IS DISTINCT FROM m.request_id))",
    /* then the +1 delta of every kept row, with that flag */
    US_DELTA_COLS
    " SELECT m.tenant, m.session_id, (m.event_time AT TIME ZONE 'UTC')::date, coalesce(m.project, ''),"
    " coalesce(m.model, ''), m.os_user, m.host, true, NOT m.btw_replay, 1, m.input_tokens, m.output_tokens,"
    " m.cache_creation_tokens, m.cache_read_tokens, m.cost_usd, CASE WHEN m.is_sidechain OR m.source_path"
    " LIKE '%/subagents/%' THEN m.cost_usd ELSE 0 END FROM message_usage m JOIN wrk_us w"
    " ON m.tenant = w.tenant AND m.usage_key = w.usage_key WHERE w.chg",
    "WITH oth AS (UPDATE message_usage m SET btw_replay = true FROM (SELECT DISTINCT tenant, message_id,"
    " request_id FROM wrk_us WHERE chg AND NOT is_sidechain::boolean) w WHERE m.tenant = w.tenant"
    " AND m.message_id = w.message_id AND m.is_sidechain AND m.request_id IS DISTINCT FROM w.request_id"
    " AND NOT m.btw_replay RETURNING m.*)" US_DELTA_COLS
    " SELECT tenant, session_id, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''),"
    " coalesce(model, ''), os_user, host, false, true, -1, -input_tokens, -output_tokens,"
    " -cache_creation_tokens, -cache_read_tokens, -cost_usd, 0 FROM oth",
    NULL};

struct ucand {
    size_t i;
    const char *tenant;
    char key[1024];
};

static int ucand_cmp(const void *a, const void *b) {
    const struct ucand *x = a, *y = b;
    int c = strcmp(x->tenant, y->tenant);
    if (!c) c = strcmp(x->key, y->key);
    if (!c) c = x->i < y->i ? -1 : x->i > y->i;
    return c;
}

/* The usage rows of the records marked in defer (non-savepoint path): rows
 * with a message.id go through wrk_us and US_SQL; "line:" keys (no
 * message.id, whose /btw check depends on the order) keep store_usage, in
 * batch order. The end state and the roll-up deltas are those of the
 * per-record path: intermediate copies of a key only add -1/+1 pairs that
 * cancel, and a sidechain row's /btw flag ends the same whether the
 * non-sidechain copy is seen by its own check or flips it afterwards. */
static int bulk_usage(struct wrk_store *st, struct wrk_rec *recs, size_t n, const char *defer, char *errstr,
                      size_t errlen, int *is_content, struct wrk_store_stats *stats) {
    struct cbuf b = {0};
    struct ucand *c = calloc(n ? n : 1, sizeof(*c));
    size_t nc = 0;
    *is_content = 0;
    if (!c) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!defer[i] || !recs[i].line.message_id) continue;
        c[nc].i = i;
        c[nc].tenant = recs[i].ev.tenant ? recs[i].ev.tenant : "";
        wrk_usage_key(recs[i].line.message_id, recs[i].line.request_id, recs[i].ev.event_id, c[nc].key,
                      sizeof(c[nc].key));
        nc++;
    }
    qsort(c, nc, sizeof(*c), ucand_cmp);
    size_t rows = 0;
    for (size_t g = 0; g < nc;) {
        size_t e = g + 1, win = g;
        while (e < nc && !strcmp(c[e].tenant, c[g].tenant) && !strcmp(c[e].key, c[g].key)) {
            struct wrk_usage_copy cand, kept;
            ucopy(&recs[c[e].i], &cand);
            ucopy(&recs[c[win].i], &kept);
            if (wrk_usage_should_replace(&cand, &kept)) win = e;
            e++;
        }
        const struct wrk_rec *rec = &recs[c[win].i];
        int inferred;
        char idx[24], t_iso[32], tot[24];
        struct uvals x;
        snprintf(idx, sizeof(idx), "%zu", c[win].i);
        iso(rec_time(rec, &inferred), t_iso);
        usage_values(st, rec, c[win].key, t_iso, &x);
        snprintf(tot, sizeof(tot), "%" PRId64, wrk_usage_total(&rec->line.usage));
        if (cb_field(&b, idx, '\t') < 0) goto oom;
        for (int k = 0; k < 23; k++)
            if (cb_field(&b, x.v[k], '\t') < 0) goto oom;
        if (cb_field(&b, tot, '\n') < 0) goto oom;
        rows++;
        g = e;
    }
    free(c);
    c = NULL;
    if (rows) {
        int rc = copy_in(st,
                         "COPY wrk_us (i, tenant, usage_key, message_id, request_id, session_id, event_id,"
                         " event_time, model, project, os_user, host, is_sidechain, input_tokens,"
                         " output_tokens, cache_creation_tokens, cache_creation_5m_tokens,"
                         " cache_creation_1h_tokens, cache_read_tokens, has_speed, cost_usd, price_version,"
                         " source_path, source_offset, total) FROM STDIN",
                         &b, errstr, errlen, is_content);
        free(b.p);
        b.p = NULL;
        if (rc < 0) return -1;
        for (int k = 0; US_SQL[k]; k++) {
            /* after the insert, every statement joins wrk_us to message_usage:
             * nested loops into its indexes, not a hash of the whole table
             * (measured: 600 ms a batch at 100k stored rows, growing) */
            if (k == 1 && simple(st, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
                                 errstr, errlen) < 0)
                return -1;
            PGresult *res = PQexec(st->conn, US_SQL[k]);
            if (!res_ok(res)) {
                errmsg(st, res, "usage", errstr, errlen);
                *is_content = content_error(res);
                PQclear(res);
                return -1;
            }
            if (k == 0 || k == 3) stats->usage_kept += strtoull(PQcmdTuples(res), NULL, 10);
            PQclear(res);
        }
        if (simple(st, "RESET enable_hashjoin; RESET enable_mergejoin", errstr, errlen) < 0) return -1;
    }
    free(b.p);
    for (size_t i = 0; i < n; i++) {
        if (!defer[i] || recs[i].line.message_id) continue;
        int inferred;
        char t_iso[32];
        iso(rec_time(&recs[i], &inferred), t_iso);
        if (store_usage(st, &recs[i], t_iso, errstr, errlen, is_content, stats) < 0) return -1;
    }
    return 0;
oom:
    free(c);
    free(b.p);
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

/* ---- the batch ------------------------------------------------------------------------------ */

enum wrk_status wrk_store_begin(struct wrk_store *st, struct wrk_rec *recs, size_t n,
                                struct wrk_store_stats *stats, char *errstr, size_t errlen) {
    struct sess *ss = NULL;
    char *bulk = NULL;  /* bulk[i]: record i's events row went through bulk_events */
    char *defer = NULL; /* defer[i]: record i's usage row goes through bulk_usage */
    size_t nss = 0;
    /* First without per-record savepoints (two round trips a record); a
     * record that PostgreSQL rejects for its content rolls the batch back and
     * it is redone with a savepoint around every record. */
    int use_sp = 0;
again:
    memset(stats, 0, sizeof(*stats));
    if (!wrk_store_connected(st)) {
        snprintf(errstr, errlen, "not connected");
        return WRK_RETRY;
    }
    if (simple(st, "BEGIN", errstr, errlen) < 0) goto retry;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].poison) continue;
        int inferred;
        if (ensure_day(st, rec_time(&recs[i], &inferred), errstr, errlen) < 0) goto retry;
    }
    ss = calloc(n ? n : 1, sizeof(*ss));
    bulk = calloc(n ? n : 1, 1);
    defer = calloc(n ? n : 1, 1);
    if (!ss || !bulk || !defer) {
        snprintf(errstr, errlen, "out of memory");
        goto retry;
    }
    if (!use_sp) {
        char rerr[1024];
        int is_content = 0;
        if (bulk_events(st, recs, n, bulk, rerr, sizeof(rerr), &is_content) < 0 ||
            bulk_tools(st, recs, n, bulk, rerr, sizeof(rerr), &is_content) < 0) {
            snprintf(errstr, errlen, "%s", rerr);
            if (!is_content) goto retry;
            goto redo; /* a row PostgreSQL rejects: find it record by record */
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct wrk_rec *rec = &recs[i];
        if (rec->poison) continue;
        char rerr[1024];
        int is_content = 0;
        if (use_sp && simple(st, "SAVEPOINT rec", errstr, errlen) < 0) goto retry;
        if (store_rec(st, rec, !use_sp && bulk[i], use_sp ? NULL : &defer[i], rerr, sizeof(rerr), &is_content,
                      stats) < 0) {
            if (!is_content) {
                snprintf(errstr, errlen, "%s", rerr);
                goto retry;
            }
            if (!use_sp) goto redo;
            if (simple(st, "ROLLBACK TO SAVEPOINT rec", errstr, errlen) < 0) goto retry;
            char reason[1100];
            snprintf(reason, sizeof(reason), "postgres: %s", rerr);
            rec->poison = strdup(reason);
            rec->inserted = 0;
            stats->poison++;
            continue;
        }
        if (use_sp && simple(st, "RELEASE SAVEPOINT rec", errstr, errlen) < 0) goto retry;
        if (rec->inserted) {
            int inferred;
            int64_t t = rec_time(rec, &inferred);
            sess_add(sess_get(ss, &nss, rec), rec, t, inferred);
            stats->inserted++;
        } else {
            stats->duplicates++;
        }
    }
    if (!use_sp) {
        char rerr[1024];
        int is_content = 0;
        if (bulk_results(st, recs, n, bulk, rerr, sizeof(rerr), &is_content) < 0 ||
            bulk_usage(st, recs, n, defer, rerr, sizeof(rerr), &is_content, stats) < 0) {
            snprintf(errstr, errlen, "%s", rerr);
            if (!is_content) goto retry;
            goto redo;
        }
    }
    /* sessions, in key order so concurrent workers lock rows in one order */
    qsort(ss, nss, sizeof(*ss), sess_cmp);
    for (size_t i = 0; i < nss; i++) {
        struct sess *s = &ss[i];
        char first[32], last[32], events[24], um[24], tc[24], te[24], ae[24], in[24];
        int inferred = s->first == INT64_MAX && s->ifirst != INT64_MAX;
        if (inferred) s->first = s->ifirst, s->last = s->ilast;
        if (s->first != INT64_MAX) iso(s->first, first);
        if (s->last != INT64_MIN) iso(s->last, last);
        snprintf(events, sizeof(events), "%ld", s->events);
        snprintf(um, sizeof(um), "%ld", s->user_messages);
        snprintf(tc, sizeof(tc), "%ld", s->tool_calls);
        snprintf(te, sizeof(te), "%ld", s->tool_errors);
        snprintf(ae, sizeof(ae), "%ld", s->api_errors);
        snprintf(in, sizeof(in), "%ld", s->interruptions);
        const char *v[17] = {s->tenant,
                             s->session_id,
                             s->cwd,
                             s->branch,
                             s->host,
                             s->user,
                             s->title,
                             s->version,
                             s->first != INT64_MAX ? first : NULL,
                             s->last != INT64_MIN ? last : NULL,
                             events,
                             inferred ? "true" : "false",
                             um,
                             tc,
                             te,
                             ae,
                             in};
        PGresult *r = run(st, "upsert_session", 17, v);
        if (!res_ok(r)) {
            errmsg(st, r, "upsert session", errstr, errlen);
            PQclear(r);
            goto retry;
        }
        PQclear(r);
    }
    if (apply_rollups(st, ss, nss, errstr, errlen) < 0) goto retry;
    for (size_t i = 0; i < n; i++)
        if (recs[i].poison && store_error(st, &recs[i], errstr, errlen) < 0) goto retry;
    free(ss);
    free(bulk);
    free(defer);
    return WRK_OK;
redo:
    if (simple(st, "ROLLBACK", errstr, errlen) < 0) goto retry;
    st->ndays = 0; /* partitions created in the rolled-back transaction */
    free(ss);
    free(bulk);
    free(defer);
    ss = NULL;
    bulk = NULL;
    defer = NULL;
    nss = 0;
    for (size_t j = 0; j < n; j++)
        recs[j].inserted = 0;
    use_sp = 1;
    goto again;
retry:
    free(ss);
    free(bulk);
    free(defer);
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK) {
        char e2[256];
        if (simple(st, "ROLLBACK", e2, sizeof(e2)) < 0) wrk_store_disconnect(st);
    }
    /* partitions created in a rolled-back transaction do not exist */
    st->ndays = 0;
    return WRK_RETRY;
}

/* Tables the batch statements look up by key whose statistics are missing
 * or older than half their rows: new partitions and a new database fill
 * faster than autovacuum (one pass a minute) analyzes them, and without
 * statistics the planner takes the (tenant) prefix of the wrong index for
 * the key lookups (a scan of the tenant's rows per lookup). Not events:
 * its partitions cost ~170 ms to sample and its lookups already take the
 * primary key. */
static const char ANALYZE_DUE[] = "SELECT format('%I.%I', s.schemaname, s.relname) FROM pg_stat_user_tables s"
                                  " JOIN pg_class c ON c.oid = s.relid"
                                  " WHERE (s.relname IN ('message_usage', 'sessions', 'tool_results_pending')"
                                  " OR s.relname LIKE 'tool\\_calls\\_p%')"
                                  " AND s.n_mod_since_analyze >= 1000 AND s.n_mod_since_analyze > c.reltuples"
                                  " ORDER BY s.n_mod_since_analyze DESC LIMIT 4";

/* After a commit, at most every 2 s: ANALYZE the due tables. A table some
 * other session is analyzing is skipped (lock_timeout); errors only log. */
static void analyze_young(struct wrk_store *st) {
    int64_t now = (int64_t)(obs_mono_s() * 1000);
    if (now - st->analyze_ms < 2000) return;
    st->analyze_ms = now;
    PGresult *r = PQexec(st->conn, ANALYZE_DUE);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        obs_debug("db", "analyze check: %s", PQresultErrorMessage(r));
        PQclear(r);
        return;
    }
    for (int k = 0; k < PQntuples(r); k++) {
        char sql[600];
        snprintf(sql, sizeof(sql), "SET lock_timeout = '20ms'; ANALYZE %s; RESET lock_timeout",
                 PQgetvalue(r, k, 0));
        PGresult *a = PQexec(st->conn, sql);
        if (PQresultStatus(a) != PGRES_COMMAND_OK) {
            obs_debug("db", "analyze %s: %s", PQgetvalue(r, k, 0), PQresultErrorMessage(a));
            PQclear(a);
            a = PQexec(st->conn, "RESET lock_timeout");
        } else {
            obs_debug("db", "analyzed %s", PQgetvalue(r, k, 0));
        }
        PQclear(a);
    }
    PQclear(r);
}

enum wrk_status wrk_store_commit(struct wrk_store *st, int ok, char *errstr, size_t errlen) {
    if (!wrk_store_connected(st)) {
        snprintf(errstr, errlen, "not connected");
        st->ndays = 0;
        return WRK_RETRY;
    }
    if (simple(st, ok ? "COMMIT" : "ROLLBACK", errstr, errlen) < 0) {
        st->ndays = 0;
        return WRK_RETRY;
    }
    if (!ok) st->ndays = 0;
    if (ok) analyze_young(st);
    return WRK_OK;
}
