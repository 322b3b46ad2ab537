-- 0002_worker_usage_order.sql - what the workers need beyond 0001 (expand only).
--
-- message_usage: the kept copy's source coordinates, so that the ccusage
-- "first seen wins" tie break is reproduced independently of Kafka arrival
-- order (smaller source_path bytewise, then smaller source_offset), and the
-- /btw flag: a sidechain copy of a message that also exists as a
-- non-sidechain copy under another requestId. ccusage 20's `session` report
-- counts such copies, its `daily` report does not; sum over
-- `NOT btw_replay` to get the daily figures.
ALTER TABLE message_usage ADD COLUMN IF NOT EXISTS source_path text;
ALTER TABLE message_usage ADD COLUMN IF NOT EXISTS source_offset bigint;
ALTER TABLE message_usage ADD COLUMN IF NOT EXISTS btw_replay boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS message_usage_message_idx ON message_usage (tenant, message_id);

-- A tool_result whose tool_use is not stored yet (it is in a later batch,
-- on another partition, or in a file not yet read) waits here; inserting
-- the tool_use applies and deletes it.
CREATE TABLE IF NOT EXISTS tool_results_pending (
    tenant          text        NOT NULL,
    tool_use_id     text        NOT NULL,
    session_id      text        NOT NULL,
    result_time     timestamptz NOT NULL,
    is_error        boolean     NOT NULL DEFAULT false,
    error_excerpt   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, tool_use_id)
);
