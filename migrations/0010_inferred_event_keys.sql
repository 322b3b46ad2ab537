-- 0010_inferred_event_keys.sql - the keys of events whose time was inferred,
-- for obs-worker's duplicate check of such lines (expand only).
--
-- A line without a timestamp is stored with its observed time as
-- event_time, which is part of the events primary key; a copy read again
-- later gets a new observed time, so the worker has to look for the event
-- id in every day partition. It did that with NOT EXISTS over events: one
-- primary-key probe per partition per line, 23 % of the worker's database
-- time at 700k lines over ~400 day partitions (bench/workers/quick.sh,
-- ADR 0024). Now the first copy of each such (tenant, event_id) claims a
-- row here (INSERT ... ON CONFLICT DO NOTHING) in the same transaction as
-- its events row, and only the claimed ones are inserted into events.
--
-- The backfill reads every events row once. Rows written by a worker older
-- than this migration while it still runs (a rolling upgrade) have no key:
-- run `SELECT obs_inferred_keys_backfill()` once the rollout is done (it is
-- idempotent). Keys stay when their events partition is dropped by
-- retention: a line read again after that is not stored again.

CREATE TABLE IF NOT EXISTS events_inferred_keys (
    tenant      text        NOT NULL,
    event_id    text        NOT NULL,
    event_time  timestamptz NOT NULL,  -- the stored copy's (observed) time
    PRIMARY KEY (tenant, event_id)
);

CREATE OR REPLACE FUNCTION obs_inferred_keys_backfill() RETURNS bigint
LANGUAGE sql AS $$
    WITH i AS (
        INSERT INTO events_inferred_keys (tenant, event_id, event_time)
        SELECT tenant, event_id, min(event_time) FROM events WHERE time_inferred
         GROUP BY tenant, event_id ORDER BY tenant, event_id
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*) FROM i;
$$;

SELECT obs_inferred_keys_backfill();
