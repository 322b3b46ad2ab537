-- 0008_tool_medians.sql - the tenant's median duration per tool, kept in
-- tool_medians, for the relative long_tool_call rule (expand only).
--
-- 0005-0007 computed, for every call of the session between 60 s and 5 min,
-- the median of the tenant's calls of that tool over the 30 days before it,
-- on every derive (each batch that touched the session): a scan of 30 days
-- of tool_calls per candidate call, so the cost grew with the history and
-- with the session (measured: ~1,000 events/s and 2 s per derive after 2
-- million lines of the bench corpus). Now obs_tool_medians_refresh(tenant)
-- recomputes the tenant's medians over the 30 days up to its latest session
-- activity; the worker calls it with obs_cost_outliers (at most once a
-- minute per tenant, OBS_INSIGHTS_OUTLIER_INTERVAL_MS) and derive joins the
-- stored medians. The rule reads "10 x the tenant's median for that tool
-- over its last 30 days" (as of the last refresh) instead of "the 30 days
-- before the call".

CREATE TABLE IF NOT EXISTS tool_medians (
    tenant       text             NOT NULL,
    tool_name    text             NOT NULL,
    median_ms    double precision NOT NULL,
    samples      bigint           NOT NULL,
    window_end   timestamptz      NOT NULL,  -- the 30 days end here
    computed_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, tool_name)
);

CREATE OR REPLACE FUNCTION obs_tool_medians_refresh(p_tenant text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_end timestamptz;
BEGIN
    SELECT max(s.last_event_at) INTO v_end FROM sessions s WHERE s.tenant = p_tenant;
    IF v_end IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO tool_medians AS t (tenant, tool_name, median_ms, samples, window_end)
    SELECT p_tenant, o.tool_name, percentile_cont(0.5) WITHIN GROUP (ORDER BY o.duration_ms), count(*), v_end
      FROM tool_calls o
     WHERE o.tenant = p_tenant AND o.duration_ms IS NOT NULL
       AND o.event_time >= v_end - interval '30 days' AND o.event_time <= v_end
     GROUP BY o.tool_name
     ORDER BY o.tool_name
    ON CONFLICT (tenant, tool_name) DO UPDATE SET
        median_ms = EXCLUDED.median_ms, samples = EXCLUDED.samples, window_end = EXCLUDED.window_end,
        computed_at = now();
END;
$$;

CREATE OR REPLACE FUNCTION obs_session_derive(p_tenant text, p_session text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_ended   text;
    v_last_t  timestamptz;
    v_last_id text;
    v_last_tx text;
    v_lo      timestamptz := '-infinity';
    v_hi      timestamptz := 'infinity';
BEGIN
    -- Lines with a real timestamp lie within the session's first/last event
    -- time (advanced by every new such line), so the two queries over them
    -- can name that range and skip the other day partitions.
    SELECT s.first_event_at, s.last_event_at INTO v_lo, v_hi
      FROM sessions s
     WHERE s.tenant = p_tenant AND s.session_id = p_session AND NOT s.times_inferred
       AND s.first_event_at IS NOT NULL AND s.last_event_at IS NOT NULL;
    IF NOT FOUND THEN
        v_lo := '-infinity';
        v_hi := 'infinity';
    END IF;

    -- The session's last conversational line: user/assistant, not a
    -- sidechain, not harness meta, not the synthetic "No response requested."
    -- reply that follows an interruption.
    SELECT CASE WHEN e.raw->>'isApiErrorMessage' = 'true' THEN 'api_error'
                WHEN e.type = 'user' AND e.text_content LIKE '[Request interrupted by user%' THEN 'interrupted'
           END, e.event_time, e.event_id, left(e.text_content, 300)
      INTO v_ended, v_last_t, v_last_id, v_last_tx
      FROM events e
     WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
       AND e.event_time >= v_lo AND e.event_time <= v_hi
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
                         WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
                           AND e.event_time >= v_lo AND e.event_time <= v_hi) g
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
        SELECT tc.*, NULL::double precision AS median, NULL::bigint AS samples
          FROM tc WHERE tc.duration_ms > 300000
        UNION ALL
        SELECT tc.*, m.median_ms, m.samples
          FROM tc JOIN tool_medians m ON m.tenant = p_tenant AND m.tool_name = tc.tool_name
         WHERE tc.duration_ms BETWEEN 60000 AND 300000 AND m.samples >= 20 AND tc.duration_ms > 10 * m.median_ms),
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
