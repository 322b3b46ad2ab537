-- 0005_rollup_functions.sql - what obs-worker runs to keep the 0004 roll-ups
-- (expand only: new functions, the previous release never calls them).
--
-- obs_session_derive(tenant, session): the session columns that are not a
-- plain sum of new rows - active_ms, models, ended_with, has_errors - and
-- the session-scoped insights (tool_error_loop, long_tool_call,
-- ended_with_api_error, ended_interrupted) plus sessions.insights. Recomputed
-- from events / tool_calls / message_usage of that one session (index scans
-- on the *_session_idx indexes), so it is exact and idempotent whatever the
-- arrival order of the lines. The worker calls it at the end of every batch
-- for each session the batch touched.
--
-- obs_cost_outliers(tenant): cost_outlier insights over the tenant's sessions
-- that started in the last 30 days (needs at least 20 of them): cost_usd >
-- Q3 + 3 * IQR. The worker calls it at most once a minute per tenant; any
-- job (obsctl, cron) may call it too. docs/workers.md "Insights".

CREATE OR REPLACE FUNCTION obs_session_derive(p_tenant text, p_session text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_ended   text;
    v_last_t  timestamptz;
    v_last_id text;
    v_last_tx text;
BEGIN
    -- The session's last conversational line: user/assistant, not a
    -- sidechain, not harness meta, not the synthetic "No response requested."
    -- reply that follows an interruption.
    SELECT CASE WHEN e.raw->>'isApiErrorMessage' = 'true' THEN 'api_error'
                WHEN e.type = 'user' AND e.text_content LIKE '[Request interrupted by user%' THEN 'interrupted'
           END, e.event_time, e.event_id, left(e.text_content, 300)
      INTO v_ended, v_last_t, v_last_id, v_last_tx
      FROM events e
     WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
       AND e.type IN ('user', 'assistant') AND NOT e.is_sidechain
       AND coalesce(e.raw->>'isMeta', 'false') <> 'true'
       AND NOT (coalesce(e.model, '') = '<synthetic>' AND coalesce(e.raw->>'isApiErrorMessage', 'false') <> 'true')
     ORDER BY e.event_time DESC, e.source_path DESC, e.source_offset DESC
     LIMIT 1;

    UPDATE sessions s SET
        active_ms = coalesce((SELECT sum(g.gap) FROM (
                        SELECT round(extract(epoch FROM e.event_time - lag(e.event_time) OVER (ORDER BY e.event_time))
                                     * 1000)::bigint AS gap
                          FROM events e
                         WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred) g
                     WHERE g.gap < 300000), 0),
        models = ARRAY(SELECT DISTINCT m.model COLLATE "C" FROM message_usage m
                        WHERE m.tenant = p_tenant AND m.session_id = p_session
                          AND m.model IS NOT NULL AND m.model <> '' AND m.model <> '<synthetic>'
                        ORDER BY 1),
        ended_with = v_ended,
        has_errors = s.tool_errors > 0 OR s.api_errors > 0
     WHERE s.tenant = p_tenant AND s.session_id = p_session;

    WITH tc AS (
        SELECT t.tool_use_id, t.tool_name, t.event_time, t.duration_ms, t.error_excerpt, t.is_sidechain,
               coalesce(t.is_error, false) AS err,
               row_number() OVER (PARTITION BY t.is_sidechain ORDER BY t.event_time, t.tool_use_id) AS rn,
               row_number() OVER (PARTITION BY t.is_sidechain, t.tool_name, coalesce(t.is_error, false)
                                  ORDER BY t.event_time, t.tool_use_id) AS rn2
          FROM tool_calls t
         WHERE t.tenant = p_tenant AND t.session_id = p_session),
    loops AS (
        SELECT tool_name, count(*) AS n, min(event_time) AS t0, max(event_time) AS t1,
               (array_agg(tool_use_id ORDER BY event_time, tool_use_id))[1] AS first_id,
               array_agg(tool_use_id ORDER BY event_time, tool_use_id) AS ids,
               (array_agg(error_excerpt ORDER BY event_time DESC, tool_use_id DESC))[1] AS last_err
          FROM tc WHERE err
         GROUP BY is_sidechain, tool_name, rn - rn2
        HAVING count(*) >= 3),
    longc AS (
        SELECT tc.*, med.median, med.samples
          FROM tc
          LEFT JOIN LATERAL (
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY o.duration_ms) AS median, count(*) AS samples
                  FROM tool_calls o
                 WHERE o.tenant = p_tenant AND o.tool_name = tc.tool_name AND o.duration_ms IS NOT NULL
                   AND o.event_time >= tc.event_time - interval '30 days' AND o.event_time <= tc.event_time
                   AND tc.duration_ms BETWEEN 60000 AND 300000) med ON true
         WHERE tc.duration_ms > 300000
            OR (tc.duration_ms >= 60000 AND med.samples >= 20 AND tc.duration_ms > 10 * med.median)),
    fresh AS (
        SELECT 'tool_error_loop:' || p_session || ':' || first_id AS insight_id, 'tool_error_loop' AS kind,
               CASE WHEN n >= 5 THEN 'critical' ELSE 'warning' END AS severity,
               format('%s failed %s times in a row between %s and %s; last error: %s', tool_name, n,
                      to_char(t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                      to_char(t1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                      coalesce(left(last_err, 200), '(no message)')) AS reason,
               jsonb_build_object('tool_name', tool_name, 'failures', n, 'tool_use_ids', to_jsonb(ids),
                                  'last_error', left(last_err, 1000)) AS details,
               t0 AS event_time
          FROM loops
        UNION ALL
        SELECT 'long_tool_call:' || tool_use_id, 'long_tool_call',
               CASE WHEN duration_ms > 1800000 THEN 'critical' ELSE 'warning' END,
               CASE WHEN duration_ms > 300000
                    THEN format('%s call took %s s, more than the 5 min limit', tool_name,
                                round(duration_ms / 1000.0, 1))
                    ELSE format('%s call took %s s, %s times the tenant''s median of %s s for %s', tool_name,
                                round(duration_ms / 1000.0, 1), round((duration_ms / median)::numeric, 1),
                                round((median / 1000.0)::numeric, 1), tool_name)
               END,
               jsonb_build_object('tool_name', tool_name, 'tool_use_id', tool_use_id, 'duration_ms', duration_ms,
                                  'tenant_median_ms', median, 'median_samples', samples),
               event_time
          FROM longc
        UNION ALL
        SELECT 'ended_with_api_error:' || p_session, 'ended_with_api_error', 'warning',
               format('The session ended with an API error at %s: %s',
                      to_char(v_last_t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                      coalesce(left(v_last_tx, 200), '(no message)')),
               jsonb_build_object('event_id', v_last_id, 'text', v_last_tx), v_last_t
         WHERE v_ended = 'api_error'
        UNION ALL
        SELECT 'ended_interrupted:' || p_session, 'ended_interrupted', 'info',
               format('The user interrupted the last request at %s and the session ended there',
                      to_char(v_last_t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
               jsonb_build_object('event_id', v_last_id, 'text', v_last_tx), v_last_t
         WHERE v_ended = 'interrupted'),
    gone AS (
        DELETE FROM insights i
         WHERE i.tenant = p_tenant AND i.session_id = p_session
           AND i.kind IN ('tool_error_loop', 'long_tool_call', 'ended_with_api_error', 'ended_interrupted')
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.insight_id = i.insight_id))
    INSERT INTO insights AS i (tenant, insight_id, session_id, kind, severity, reason, details, event_time)
    SELECT p_tenant, f.insight_id, p_session, f.kind, f.severity, f.reason, f.details, f.event_time FROM fresh f
    ON CONFLICT (tenant, insight_id) DO UPDATE SET
        session_id = EXCLUDED.session_id, severity = EXCLUDED.severity, reason = EXCLUDED.reason,
        details = EXCLUDED.details, event_time = EXCLUDED.event_time
     WHERE (i.session_id, i.severity, i.reason, i.details, i.event_time)
           IS DISTINCT FROM (EXCLUDED.session_id, EXCLUDED.severity, EXCLUDED.reason, EXCLUDED.details,
                             EXCLUDED.event_time);

    UPDATE sessions s SET insights = c.n
      FROM (SELECT count(*)::int AS n FROM insights WHERE tenant = p_tenant AND session_id = p_session) c
     WHERE s.tenant = p_tenant AND s.session_id = p_session AND s.insights <> c.n;
END;
$$;

CREATE OR REPLACE FUNCTION obs_cost_outliers(p_tenant text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS obs_outlier_touched (session_id text) ON COMMIT DROP;
    WITH win AS (
        SELECT s.session_id, s.cost_usd, s.first_event_at
          FROM sessions s
         WHERE s.tenant = p_tenant AND s.first_event_at >= now() - interval '30 days'),
    q AS (
        SELECT count(*) AS n,
               percentile_cont(0.25) WITHIN GROUP (ORDER BY cost_usd) AS q1,
               percentile_cont(0.75) WITHIN GROUP (ORDER BY cost_usd) AS q3
          FROM win),
    fresh AS (
        SELECT 'cost_outlier:' || w.session_id AS insight_id, w.session_id,
               format('The session cost $%s, above the tenant''s 30-day outlier fence of $%s'
                      ' (Q3 $%s + 3 x IQR $%s over %s sessions)',
                      round(w.cost_usd, 4), round((q.q3 + 3 * (q.q3 - q.q1))::numeric, 4),
                      round(q.q3::numeric, 4), round((q.q3 - q.q1)::numeric, 4), q.n) AS reason,
               jsonb_build_object('cost_usd', w.cost_usd, 'q1', q.q1, 'q3', q.q3,
                                  'fence', q.q3 + 3 * (q.q3 - q.q1), 'sessions', q.n) AS details,
               CASE WHEN w.cost_usd > q.q3 + 6 * (q.q3 - q.q1) THEN 'critical' ELSE 'warning' END AS severity,
               w.first_event_at AS event_time
          FROM win w, q
         WHERE q.n >= 20 AND w.cost_usd > q.q3 + 3 * (q.q3 - q.q1) AND w.cost_usd > 0),
    gone AS (
        DELETE FROM insights i
         WHERE i.tenant = p_tenant AND i.kind = 'cost_outlier'
           AND i.session_id IN (SELECT session_id FROM win)
           AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.insight_id = i.insight_id)
        RETURNING i.session_id),
    ins AS (
        INSERT INTO insights AS i (tenant, insight_id, session_id, kind, severity, reason, details, event_time)
        SELECT p_tenant, f.insight_id, f.session_id, 'cost_outlier', f.severity, f.reason, f.details, f.event_time
          FROM fresh f
        ON CONFLICT (tenant, insight_id) DO UPDATE SET
            severity = EXCLUDED.severity, reason = EXCLUDED.reason, details = EXCLUDED.details,
            event_time = EXCLUDED.event_time
         WHERE (i.severity, i.reason, i.details, i.event_time)
               IS DISTINCT FROM (EXCLUDED.severity, EXCLUDED.reason, EXCLUDED.details, EXCLUDED.event_time)
        RETURNING i.session_id)
    INSERT INTO obs_outlier_touched SELECT session_id FROM gone UNION SELECT session_id FROM ins;

    UPDATE sessions s SET insights = c.n
      FROM (SELECT t.session_id, (SELECT count(*)::int FROM insights i
                                   WHERE i.tenant = p_tenant AND i.session_id = t.session_id) AS n
              FROM (SELECT DISTINCT session_id FROM obs_outlier_touched) t) c
     WHERE s.tenant = p_tenant AND s.session_id = c.session_id AND s.insights <> c.n;
    SELECT count(*) INTO v_n FROM insights WHERE tenant = p_tenant AND kind = 'cost_outlier';
    TRUNCATE obs_outlier_touched;
    RETURN v_n;
END;
$$;
