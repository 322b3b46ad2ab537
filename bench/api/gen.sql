-- bench/api/gen.sql - synthetic data for the API benchmark, generated in
-- the database: :sessions sessions over :days days for tenant 'bench' (and
-- a second tenant with a tenth of that, so tenant filtering matters),
-- :per_session events each, one message_usage row per 10 events, one tool
-- call per 10 events. Every day has its own partition. The roll-ups the
-- worker keeps (migrations/0004: session columns, daily_usage,
-- session_files, insights) are computed from those rows at the end, so the
-- API reads figures consistent with the facts.
\set ON_ERROR_STOP 1
SELECT obs_ensure_day_partition(t, (now() AT TIME ZONE 'UTC')::date - d)
FROM unnest(ARRAY['events', 'tool_calls']) t, generate_series(0, :days) d;

INSERT INTO sessions (tenant, session_id, project, cwd, git_branch, host, os_user, first_event_at, last_event_at, events)
SELECT CASE WHEN i % 11 = 0 THEN 'other' ELSE 'bench' END, 's' || lpad(i::text, 8, '0'), format('/src/project-%s', i % 40),
       format('/src/project-%s', i % 40), 'main', format('host-%s', i % 25), format('user-%s', i % 60),
       now() - (i % :days) * interval '1 day' - (i % 86400) * interval '1 second',
       now() - (i % :days) * interval '1 day' - (i % 86400) * interval '1 second' + interval '30 minutes', :per_session
FROM generate_series(1, :sessions) i;

INSERT INTO events (tenant, event_id, event_time, session_id, host, os_user, source_path, file_id, source_offset,
                    type, uuid, message_id, model, cwd, project, text_content, observed_time, input_tokens, output_tokens,
                    is_sidechain, agent_id)
SELECT s.tenant, md5(s.session_id || ':' || j), s.first_event_at + j * interval '10 seconds', s.session_id, s.host,
       s.os_user, s.session_id || '.jsonl', '1:1:x', j * 700, CASE WHEN j % 2 = 0 THEN 'user' ELSE 'assistant' END,
       md5(j || s.session_id)::uuid::text, CASE WHEN j % 2 = 1 THEN format('msg_%s_%s', s.session_id, j) END,
       CASE WHEN j % 2 = 1 THEN 'claude-sonnet-4-5-20250929' END, s.cwd, s.project, 'some text of line ' || j,
       s.first_event_at + j * interval '10 seconds', CASE WHEN j % 2 = 1 THEN 10 END, CASE WHEN j % 2 = 1 THEN 200 END,
       j % 30 = 0, CASE WHEN j % 30 = 0 THEN 'agent-' || (j / 30) END
FROM sessions s, generate_series(0, :per_session - 1) j;

INSERT INTO message_usage (tenant, usage_key, message_id, request_id, session_id, event_id, event_time, model, project,
                           os_user, host, is_sidechain, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens,
                           cost_usd)
SELECT s.tenant, format('msg_%s_%s:req', s.session_id, j), format('msg_%s_%s', s.session_id, j), 'req',
       s.session_id, md5(s.session_id || ':' || j), s.first_event_at + j * interval '10 seconds',
       CASE WHEN j % 3 = 0 THEN 'claude-opus-4-5-20251101' ELSE 'claude-sonnet-4-5-20250929' END, s.project,
       s.os_user, s.host, j % 30 = 0, 10, 200, 1000, 20000, 0.0123 + (hashtext(s.session_id) & 1023) * 0.000001
FROM sessions s, generate_series(0, :per_session - 1, 10) j;

INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name, tool_category, result_time,
                        duration_ms, is_error)
SELECT s.tenant, format('toolu_%s_%s', s.session_id, j), s.first_event_at + j * interval '10 seconds', s.session_id,
       md5(s.session_id || ':' || j), (ARRAY['Read', 'Edit', 'Bash', 'Grep', 'Write'])[1 + j % 5], 'file',
       s.first_event_at + j * interval '10 seconds' + (j % 7) * interval '1 second', (j % 7) * 1000, j % 13 = 0
FROM sessions s, generate_series(5, :per_session - 1, 10) j;

-- Roll-ups, as obs-worker keeps them.
UPDATE sessions s SET input_tokens = u.i, output_tokens = u.o, cache_creation_tokens = u.cc, cache_read_tokens = u.cr,
       total_tokens = u.i + u.o + u.cc + u.cr, cost_usd = u.cost, subagent_cost_usd = u.sub, models = u.models,
       assistant_messages = u.n, user_messages = :per_session / 2 - :per_session / 10
FROM (SELECT tenant, session_id, sum(input_tokens) i, sum(output_tokens) o, sum(cache_creation_tokens) cc,
             sum(cache_read_tokens) cr, sum(cost_usd) cost, coalesce(sum(cost_usd) FILTER (WHERE is_sidechain), 0) sub,
             count(*) n, array_agg(DISTINCT model ORDER BY model) models
      FROM message_usage GROUP BY 1, 2) u
WHERE s.tenant = u.tenant AND s.session_id = u.session_id;
UPDATE sessions s SET tool_calls = c.n, tool_errors = c.err, has_errors = c.err > 0
FROM (SELECT tenant, session_id, count(*) n, count(*) FILTER (WHERE is_error) err FROM tool_calls GROUP BY 1, 2) c
WHERE s.tenant = c.tenant AND s.session_id = c.session_id;
INSERT INTO daily_usage (tenant, day, project, model, os_user, host, messages, input_tokens, output_tokens,
                         cache_creation_tokens, cache_read_tokens, cost_usd)
SELECT tenant, (event_time AT TIME ZONE 'UTC')::date, coalesce(project, ''), coalesce(model, ''), os_user, host,
       count(*), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), sum(cache_read_tokens), sum(cost_usd)
FROM message_usage WHERE NOT btw_replay GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO session_files (tenant, session_id, path, action, count)
SELECT s.tenant, s.session_id, format('%s/src/file-%s.c', s.project, f), a, 1 + f
FROM sessions s, generate_series(1, 5) f, unnest(ARRAY['read', 'edit']) a;
INSERT INTO insights (tenant, insight_id, session_id, kind, severity, reason, event_time)
SELECT s.tenant, 'cost_outlier:' || s.session_id, s.session_id, 'cost_outlier', 'warning',
       'session cost is far above the project median', s.last_event_at
FROM sessions s WHERE hashtext(s.session_id) % 50 = 0;
UPDATE sessions s SET insights = 1 WHERE hashtext(s.session_id) % 50 = 0;
ANALYZE;
