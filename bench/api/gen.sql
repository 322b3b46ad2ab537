-- bench/api/gen.sql - synthetic data for the API benchmark, generated in
-- the database: :sessions sessions over :days days for tenant 'bench' (and
-- a second tenant with a tenth of that, so tenant filtering matters),
-- :per_session events each, one message_usage row per 10 events, one tool
-- call per 10 events. Every day has its own partition.
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
                    type, uuid, message_id, model, cwd, project, text_content, observed_time, input_tokens, output_tokens)
SELECT s.tenant, md5(s.session_id || ':' || j), s.first_event_at + j * interval '10 seconds', s.session_id, s.host,
       s.os_user, s.session_id || '.jsonl', '1:1:x', j * 700, CASE WHEN j % 2 = 0 THEN 'user' ELSE 'assistant' END,
       md5(j || s.session_id)::uuid::text, CASE WHEN j % 2 = 1 THEN format('msg_%s_%s', s.session_id, j) END,
       CASE WHEN j % 2 = 1 THEN 'claude-sonnet-4-5-20250929' END, s.cwd, s.project, 'some text of line ' || j,
       s.first_event_at + j * interval '10 seconds', CASE WHEN j % 2 = 1 THEN 10 END, CASE WHEN j % 2 = 1 THEN 200 END
FROM sessions s, generate_series(0, :per_session - 1) j;

INSERT INTO message_usage (tenant, usage_key, message_id, request_id, session_id, event_id, event_time, model, project,
                           os_user, host, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)
SELECT s.tenant, format('msg_%s_%s:req', s.session_id, j), format('msg_%s_%s', s.session_id, j), 'req',
       s.session_id, md5(s.session_id || ':' || j), s.first_event_at + j * interval '10 seconds',
       CASE WHEN j % 3 = 0 THEN 'claude-opus-4-5-20251101' ELSE 'claude-sonnet-4-5-20250929' END, s.project,
       s.os_user, s.host, 10, 200, 1000, 20000, 0.0123
FROM sessions s, generate_series(0, :per_session - 1, 10) j;

INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name, tool_category, result_time,
                        duration_ms, is_error)
SELECT s.tenant, format('toolu_%s_%s', s.session_id, j), s.first_event_at + j * interval '10 seconds', s.session_id,
       md5(s.session_id || ':' || j), (ARRAY['Read', 'Edit', 'Bash', 'Grep', 'Write'])[1 + j % 5], 'file',
       s.first_event_at + j * interval '10 seconds' + (j % 7) * interval '1 second', (j % 7) * 1000, j % 13 = 0
FROM sessions s, generate_series(5, :per_session - 1, 10) j;
ANALYZE;
