-- 0020_api_session_sorts.sql - index for the API's session list sorted by
-- duration (sort=duration); start, end, cost and tokens have theirs from
-- 0001/0004. Expand only: the previous release ignores it.
CREATE INDEX IF NOT EXISTS sessions_duration_idx
    ON sessions (tenant, (last_event_at - first_event_at) DESC, session_id DESC);
