-- 0004_rollups.sql - analysis tables (expand only; the previous release ignores them).
--
-- Written by obs-worker inside the batch transaction, advanced only by rows
-- that were new (or, for usage, by the delta of a replaced message_usage
-- row); read by obs-api. The contract is in docs/CONTRACTS.md "Roll-ups".

-- Per-session roll-ups, kept on the session row so the session list is one
-- index scan. Token and cost columns follow ccusage 20's *session* report
-- (every message_usage row, btw replays included).
ALTER TABLE sessions
    ADD COLUMN input_tokens          bigint        NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens         bigint        NOT NULL DEFAULT 0,
    ADD COLUMN cache_creation_tokens bigint        NOT NULL DEFAULT 0,
    ADD COLUMN cache_read_tokens     bigint        NOT NULL DEFAULT 0,
    ADD COLUMN total_tokens          bigint        NOT NULL DEFAULT 0,
    ADD COLUMN cost_usd              numeric(20,9) NOT NULL DEFAULT 0,
    ADD COLUMN subagent_cost_usd     numeric(20,9) NOT NULL DEFAULT 0, -- sidechain / sub-agent file usage
    ADD COLUMN models                text[]        NOT NULL DEFAULT '{}', -- sorted, no <synthetic>
    ADD COLUMN user_messages         bigint        NOT NULL DEFAULT 0, -- user lines that are not tool results
    ADD COLUMN assistant_messages    bigint        NOT NULL DEFAULT 0, -- distinct message_usage rows
    ADD COLUMN tool_calls            bigint        NOT NULL DEFAULT 0,
    ADD COLUMN tool_errors           bigint        NOT NULL DEFAULT 0,
    ADD COLUMN api_errors            bigint        NOT NULL DEFAULT 0, -- isApiErrorMessage lines
    ADD COLUMN interruptions         bigint        NOT NULL DEFAULT 0, -- "[Request interrupted by user..."
    ADD COLUMN active_ms             bigint        NOT NULL DEFAULT 0, -- sum of gaps < 5 min between lines
    ADD COLUMN has_errors            boolean       NOT NULL DEFAULT false, -- tool or API errors
    ADD COLUMN insights              integer       NOT NULL DEFAULT 0,
    ADD COLUMN ended_with            text; -- NULL, 'api_error' or 'interrupted' (the last line's state)

CREATE INDEX sessions_cost_idx ON sessions (tenant, cost_usd DESC, session_id DESC);
CREATE INDEX sessions_tokens_idx ON sessions (tenant, total_tokens DESC, session_id DESC);
CREATE INDEX sessions_end_idx ON sessions (tenant, last_event_at DESC, session_id DESC);
CREATE INDEX sessions_user_idx ON sessions (tenant, os_user, first_event_at DESC);

-- Daily usage by tenant x day (UTC) x project x model x user x host, with
-- ccusage 20's *daily* rule (btw replays excluded). <synthetic> is kept as a
-- model here with cost 0.
CREATE TABLE daily_usage (
    tenant                text          NOT NULL,
    day                   date          NOT NULL,
    project               text          NOT NULL DEFAULT '',
    model                 text          NOT NULL DEFAULT '',
    os_user               text          NOT NULL,
    host                  text          NOT NULL,
    messages              bigint        NOT NULL DEFAULT 0,
    input_tokens          bigint        NOT NULL DEFAULT 0,
    output_tokens         bigint        NOT NULL DEFAULT 0,
    cache_creation_tokens bigint        NOT NULL DEFAULT 0,
    cache_read_tokens     bigint        NOT NULL DEFAULT 0,
    cost_usd              numeric(20,9) NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, day, project, model, os_user, host)
);

-- Files a session read or changed (Read/Edit/Write/MultiEdit/NotebookEdit)
-- and the count of each action.
CREATE TABLE session_files (
    tenant      text   NOT NULL,
    session_id  text   NOT NULL,
    path        text   NOT NULL,
    action      text   NOT NULL, -- read | edit | write
    count       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, session_id, path, action)
);

-- Findings with their reason. insight_id is deterministic (kind + subject),
-- so recomputation upserts instead of duplicating.
CREATE TABLE insights (
    tenant      text        NOT NULL,
    insight_id  text        NOT NULL,
    session_id  text        NOT NULL,
    kind        text        NOT NULL, -- cost_outlier | tool_error_loop | long_tool_call | ended_with_api_error | ended_interrupted
    severity    text        NOT NULL, -- info | warning | critical
    reason      text        NOT NULL, -- one human sentence with the numbers
    details     jsonb       NOT NULL DEFAULT '{}',
    event_time  timestamptz NOT NULL, -- when it happened (session time)
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, insight_id)
);
CREATE INDEX insights_session_idx ON insights (tenant, session_id);
CREATE INDEX insights_time_idx ON insights (tenant, event_time DESC);

-- Full-text search over message text (API search route).
CREATE INDEX events_text_fts_idx ON events USING gin (to_tsvector('simple', coalesce(text_content, '')));
