-- 0012_derive_tool_span.sql - obs_session_derive names the time span of a
-- session's tool calls, so that its tool_calls statements plan only the
-- day partitions the session has calls in (expand only).
--
-- The walk back over failing runs read "the latest call before v_t2" and
-- the loop/long-call statement "every call from v_t2 on": bounded on one
-- side only, each was planned over every day partition on the other side.
-- On the 2,186,859-line bench corpus (945 day partitions) that planning
-- was most of obs_session_derive's 34 s (its statements' execution: ~11 s;
-- auto_explain, nested statements). sessions now keep tool_lo/tool_hi, the
-- earliest and latest event_time of the session's calls ('infinity' /
-- '-infinity' when it has none), widened by the batch's changed calls
-- (p_tool_from .. p_tool_to, which obs-worker passes from wrk_delta) and
-- read from tool_calls when unknown. Both statements then name
-- [tool_lo, tool_hi]; what they return is unchanged.
--
-- The seven-argument form (workers of 0009-0011 during a rolling upgrade)
-- passes no p_tool_to: the span is read from tool_calls, so it stays right.
-- This also replaces 0011's plan_cache_mode = force_generic_plan: with
-- generic plans PostgreSQL 15 locks every partition a plan names on each
-- execution, which cost more than planning at 945 partitions (derive 34.4 s
-- with custom plans, 50.4 s with generic ones, same corpus).

ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS tool_lo timestamptz,  -- earliest tool call event_time ('infinity': none)
    ADD COLUMN IF NOT EXISTS tool_hi timestamptz;  -- latest ('-infinity': none); NULL: not known yet

CREATE OR REPLACE FUNCTION obs_session_derive(p_tenant text, p_session text, p_ev_from timestamptz,
                                              p_tool_from timestamptz, p_tool_to timestamptz, p_models text[],
                                              p_models_full boolean, p_full boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    st        record;
    v_ended   text;
    v_last_t  timestamptz;
    v_last_id text;
    v_last_tx text;
    v_lo      timestamptz := '-infinity';
    v_hi      timestamptz := 'infinity';
    v_conv_lo timestamptz;
    v_active  bigint;
    v_models  text[];
    v_med_at  timestamptz;
    v_t2      timestamptz;
    v_moved   boolean;
    v_side    boolean;
    v_p_t     timestamptz;
    v_p_tool  text;
    v_p_err   boolean;
    v_stop    timestamptz;
    v_rounds  int := 0;
    v_tlo     timestamptz;
    v_thi     timestamptz;
BEGIN
    SELECT x.first_event_at, x.last_event_at, x.times_inferred, x.derive_hi, x.conv_at, x.derived_at,
           x.active_ms, x.models, x.tool_lo, x.tool_hi
      INTO st FROM sessions x WHERE x.tenant = p_tenant AND x.session_id = p_session;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    p_full := p_full OR st.derived_at IS NULL;
    -- Lines with a real timestamp lie within the session's first/last event
    -- time (advanced by every new such line), so the queries over them can
    -- name that range and skip the other day partitions.
    IF NOT st.times_inferred AND st.first_event_at IS NOT NULL AND st.last_event_at IS NOT NULL THEN
        v_lo := st.first_event_at;
        v_hi := st.last_event_at;
    END IF;

    -- The session's last conversational line: user/assistant, not a
    -- sidechain, not harness meta, not the synthetic "No response requested."
    -- reply that follows an interruption.
    v_conv_lo := CASE WHEN p_full OR st.conv_at IS NULL THEN v_lo ELSE greatest(v_lo, st.conv_at) END;
    LOOP
        SELECT CASE WHEN e.raw->>'isApiErrorMessage' = 'true' THEN 'api_error'
                    WHEN e.type = 'user' AND e.text_content LIKE '[Request interrupted by user%' THEN 'interrupted'
               END, e.event_time, e.event_id, left(e.text_content, 300)
          INTO v_ended, v_last_t, v_last_id, v_last_tx
          FROM events e
         WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
           AND e.event_time >= v_conv_lo AND e.event_time <= v_hi
           AND e.type IN ('user', 'assistant') AND NOT e.is_sidechain
           AND coalesce(e.raw->>'isMeta', 'false') <> 'true'
           AND NOT (coalesce(e.model, '') = '<synthetic>' AND coalesce(e.raw->>'isApiErrorMessage', 'false') <> 'true')
         ORDER BY e.event_time DESC, e.source_path DESC, e.source_offset DESC
         LIMIT 1;
        -- the stored line is gone only if its partition was dropped
        EXIT WHEN FOUND OR v_conv_lo = v_lo;
        v_conv_lo := v_lo;
    END LOOP;

    IF p_full OR st.derive_hi IS NULL OR (p_ev_from IS NOT NULL AND p_ev_from < st.derive_hi) THEN
        v_active := coalesce((SELECT sum(g.gap) FROM (
                        SELECT round(extract(epoch FROM e.event_time - lag(e.event_time) OVER (ORDER BY e.event_time))
                                     * 1000)::bigint AS gap
                          FROM events e
                         WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
                           AND e.event_time >= v_lo AND e.event_time <= v_hi) g
                     WHERE g.gap < 300000), 0);
    ELSIF p_ev_from IS NULL THEN
        v_active := st.active_ms;
    ELSE
        v_active := st.active_ms + coalesce((SELECT sum(g.gap) FROM (
                        SELECT round(extract(epoch FROM e.event_time - lag(e.event_time) OVER (ORDER BY e.event_time))
                                     * 1000)::bigint AS gap
                          FROM events e
                         WHERE e.tenant = p_tenant AND e.session_id = p_session AND NOT e.time_inferred
                           AND e.event_time >= st.derive_hi AND e.event_time <= v_hi) g
                     WHERE g.gap < 300000), 0);
    END IF;

    IF p_full OR p_models_full THEN
        v_models := ARRAY(SELECT DISTINCT m.model COLLATE "C" FROM message_usage m
                           WHERE m.tenant = p_tenant AND m.session_id = p_session
                             AND m.model IS NOT NULL AND m.model <> '' AND m.model <> '<synthetic>'
                           ORDER BY 1);
    ELSIF p_models IS NULL OR cardinality(p_models) = 0 THEN
        v_models := st.models;
    ELSE
        v_models := ARRAY(SELECT DISTINCT m COLLATE "C" FROM unnest(st.models || p_models) m
                           WHERE m IS NOT NULL AND m <> '' AND m <> '<synthetic>' ORDER BY 1);
    END IF;

    UPDATE sessions x SET
        active_ms = v_active,
        models = v_models,
        ended_with = v_ended,
        has_errors = x.tool_errors > 0 OR x.api_errors > 0,
        derive_hi = CASE WHEN v_hi = 'infinity' THEN NULL ELSE v_hi END,
        conv_at = v_last_t,
        derived_at = now()
     WHERE x.tenant = p_tenant AND x.session_id = p_session;

    -- The span of the session's tool calls (migration 0012): the stored one
    -- widened by what the batch inserted or changed; read from tool_calls
    -- when it is not known (a full recompute, a session derived before 0012,
    -- or a caller that passes no p_tool_to).
    IF p_full OR st.tool_lo IS NULL OR st.tool_hi IS NULL OR (p_tool_from IS NOT NULL AND p_tool_to IS NULL) THEN
        SELECT coalesce(min(t.event_time), 'infinity'), coalesce(max(t.event_time), '-infinity')
          INTO v_tlo, v_thi
          FROM tool_calls t WHERE t.tenant = p_tenant AND t.session_id = p_session;
    ELSE
        v_tlo := least(st.tool_lo, p_tool_from);
        v_thi := greatest(st.tool_hi, p_tool_to);
    END IF;
    UPDATE sessions x SET tool_lo = v_tlo, tool_hi = v_thi
     WHERE x.tenant = p_tenant AND x.session_id = p_session
       AND (x.tool_lo, x.tool_hi) IS DISTINCT FROM (v_tlo, v_thi);

    -- Where the tool calls are read from (NULL: not at all).
    SELECT max(m.computed_at) INTO v_med_at FROM tool_medians m WHERE m.tenant = p_tenant;
    IF p_full OR (v_med_at IS NOT NULL AND v_med_at >= st.derived_at) THEN
        v_t2 := '-infinity';
    ELSIF p_tool_from IS NOT NULL THEN
        v_t2 := p_tool_from;
        LOOP
            v_moved := false;
            FOREACH v_side IN ARRAY ARRAY[false, true] LOOP
                SELECT t.event_time, t.tool_name, coalesce(t.is_error, false) INTO v_p_t, v_p_tool, v_p_err
                  FROM tool_calls t
                 WHERE t.tenant = p_tenant AND t.session_id = p_session AND t.is_sidechain = v_side
                   AND t.event_time < v_t2 AND t.event_time >= v_tlo
                 ORDER BY t.event_time DESC, t.tool_use_id DESC LIMIT 1;
                IF FOUND AND v_p_err THEN
                    -- the failing run ends at that call: move v_t2 to the call before the run
                    SELECT t.event_time INTO v_stop
                      FROM tool_calls t
                     WHERE t.tenant = p_tenant AND t.session_id = p_session AND t.is_sidechain = v_side
                       AND t.event_time < v_t2 AND t.event_time >= v_tlo
                       AND NOT (t.tool_name = v_p_tool AND coalesce(t.is_error, false))
                     ORDER BY t.event_time DESC, t.tool_use_id DESC LIMIT 1;
                    v_t2 := CASE WHEN FOUND THEN v_stop ELSE '-infinity' END;
                    v_moved := true;
                END IF;
            END LOOP;
            v_rounds := v_rounds + 1;
            EXIT WHEN NOT v_moved OR v_t2 = '-infinity';
            IF v_rounds >= 50 THEN
                v_t2 := '-infinity';
                EXIT;
            END IF;
        END LOOP;
    END IF;

    WITH tc AS (
        SELECT t.tool_use_id, t.tool_name, t.event_time, t.duration_ms, t.error_excerpt, t.is_sidechain,
               coalesce(t.is_error, false) AS err,
               row_number() OVER (PARTITION BY t.is_sidechain ORDER BY t.event_time, t.tool_use_id) AS rn,
               row_number() OVER (PARTITION BY t.is_sidechain, t.tool_name, coalesce(t.is_error, false)
                                  ORDER BY t.event_time, t.tool_use_id) AS rn2
          FROM tool_calls t
         WHERE t.tenant = p_tenant AND t.session_id = p_session
           AND v_t2 IS NOT NULL AND t.event_time >= v_t2 AND t.event_time >= v_tlo AND t.event_time <= v_thi),
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
           AND (i.kind IN ('ended_with_api_error', 'ended_interrupted')
                OR (i.kind IN ('tool_error_loop', 'long_tool_call') AND v_t2 IS NOT NULL AND i.event_time >= v_t2))
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

-- Workers of 0009-0011 (rolling upgrade): no p_tool_to, the span is read.
CREATE OR REPLACE FUNCTION obs_session_derive(p_tenant text, p_session text, p_ev_from timestamptz,
                                              p_tool_from timestamptz, p_models text[],
                                              p_models_full boolean, p_full boolean) RETURNS void
LANGUAGE sql AS $$
    SELECT obs_session_derive(p_tenant, p_session, p_ev_from, p_tool_from, NULL, p_models, p_models_full, p_full);
$$;

-- Everything from the session's rows (operators, tests).
CREATE OR REPLACE FUNCTION obs_session_derive(p_tenant text, p_session text) RETURNS void
LANGUAGE sql AS $$
    SELECT obs_session_derive(p_tenant, p_session, NULL, NULL, NULL, NULL, true, true);
$$;
