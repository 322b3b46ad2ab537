-- 0001_init.sql - Observatory schema, version 1.
--
-- Big tables (events, tool_calls) are partitioned by event time, one
-- partition per UTC day, plus a DEFAULT partition that catches anything no
-- day partition covers. obs_ensure_day_partition() creates a day (moving
-- rows out of the default partition when needed) and is safe to call from
-- several workers and the maintenance job at once. Unique keys on
-- partitioned tables include the partition key (event_time).

CREATE TABLE events (
    tenant          text        NOT NULL,
    event_id        text        NOT NULL,            -- producer's deterministic id (32 hex)
    event_time      timestamptz NOT NULL,            -- line timestamp, or observed time
    time_inferred   boolean     NOT NULL DEFAULT false, -- true when the line had no timestamp
    session_id      text        NOT NULL,
    host            text        NOT NULL,
    os_user         text        NOT NULL,
    source_path     text        NOT NULL,
    file_id         text        NOT NULL,
    source_offset   bigint      NOT NULL,
    type            text        NOT NULL,            -- user, assistant, system, summary, ...
    subtype         text,
    uuid            text,
    parent_uuid     text,
    is_sidechain    boolean     NOT NULL DEFAULT false,
    agent_id        text,
    message_id      text,
    request_id      text,
    model           text,
    cwd             text,
    project         text,
    git_branch      text,
    agent_version   text,
    is_error        boolean     NOT NULL DEFAULT false,
    input_tokens          bigint,                    -- this line's usage snapshot, as written
    output_tokens         bigint,
    cache_creation_tokens bigint,
    cache_read_tokens     bigint,
    text_content    text,                            -- user/assistant text, for search
    observed_time   timestamptz NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    raw             jsonb,                           -- the line (NULL when not JSON)
    PRIMARY KEY (tenant, event_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_session_idx ON events (tenant, session_id, event_time);

CREATE TABLE tool_calls (
    tenant          text        NOT NULL,
    tool_use_id     text        NOT NULL,
    event_time      timestamptz NOT NULL,            -- time of the tool_use line
    session_id      text        NOT NULL,
    event_id        text        NOT NULL,            -- the tool_use line
    tool_name       text        NOT NULL,
    tool_category   text,
    is_sidechain    boolean     NOT NULL DEFAULT false,
    input_summary   text,                            -- file path, command, pattern ...
    result_time     timestamptz,
    duration_ms     bigint,
    is_error        boolean,
    error_excerpt   text,
    PRIMARY KEY (tenant, tool_use_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE tool_calls_default PARTITION OF tool_calls DEFAULT;
CREATE INDEX tool_calls_session_idx ON tool_calls (tenant, session_id, event_time);

-- Usage counted once per API message, as ccusage 20 does: key is
-- message.id + requestId; the kept copy is replaced by a larger-total one.
CREATE TABLE message_usage (
    tenant              text        NOT NULL,
    usage_key           text        NOT NULL,        -- "<message.id>:<requestId>"
    message_id          text        NOT NULL,
    request_id          text,
    session_id          text        NOT NULL,
    event_id            text        NOT NULL,        -- the kept line
    event_time          timestamptz NOT NULL,
    model               text,
    project             text,
    os_user             text        NOT NULL,
    host                text        NOT NULL,
    is_sidechain        boolean     NOT NULL DEFAULT false,
    input_tokens        bigint      NOT NULL DEFAULT 0,
    output_tokens       bigint      NOT NULL DEFAULT 0,
    cache_creation_tokens bigint    NOT NULL DEFAULT 0,
    cache_creation_5m_tokens bigint NOT NULL DEFAULT 0,
    cache_creation_1h_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens   bigint      NOT NULL DEFAULT 0,
    has_speed           boolean     NOT NULL DEFAULT false,
    cost_usd            numeric(20, 9) NOT NULL DEFAULT 0,
    price_version       text,
    PRIMARY KEY (tenant, usage_key)
);
CREATE INDEX message_usage_session_idx ON message_usage (tenant, session_id);
CREATE INDEX message_usage_time_idx ON message_usage (tenant, event_time);

CREATE TABLE sessions (
    tenant          text        NOT NULL,
    session_id      text        NOT NULL,
    project         text,                            -- from the first cwd
    cwd             text,                            -- first cwd
    git_branch      text,                            -- latest branch
    host            text        NOT NULL,
    os_user         text        NOT NULL,
    title           text,                            -- from a summary line
    agent_version   text,
    first_event_at  timestamptz,
    last_event_at   timestamptz,
    events          bigint      NOT NULL DEFAULT 0,  -- lines stored (advanced by new rows only)
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, session_id)
);
CREATE INDEX sessions_start_idx ON sessions (tenant, first_event_at DESC, session_id DESC);
CREATE INDEX sessions_project_idx ON sessions (tenant, project, first_event_at DESC);

CREATE TABLE ingest_errors (
    id              bigserial   PRIMARY KEY,
    tenant          text,
    source_topic    text        NOT NULL,
    source_partition int        NOT NULL,
    source_offset   bigint      NOT NULL,
    reason          text        NOT NULL,
    session_id      text,
    source_path     text,
    line_offset     bigint,
    payload         bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_topic, source_partition, source_offset)
);

CREATE TABLE api_keys (
    id              bigserial   PRIMARY KEY,
    tenant          text        NOT NULL,
    name            text        NOT NULL,
    key_hash        bytea       NOT NULL UNIQUE,     -- sha256 of the secret
    key_prefix      text        NOT NULL,            -- first chars, to recognise a key
    scopes          text[]      NOT NULL DEFAULT '{read}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz
);

-- Create the partition for one UTC day of a table partitioned by event_time,
-- moving that day's rows out of the default partition first when there are
-- any. Returns true when it created the partition. Serialised per table by
-- an advisory transaction lock, so concurrent callers are safe.
CREATE FUNCTION obs_ensure_day_partition(parent text, day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('%s_p%s', parent, to_char(day, 'YYYYMMDD'));
    def  text := parent || '_default';
    lo   timestamptz := (day::text || ' 00:00:00+00')::timestamptz;
    hi   timestamptz := ((day + 1)::text || ' 00:00:00+00')::timestamptz;
    n    bigint;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('observatory.partition.' || parent));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT count(*) FROM %I WHERE event_time >= $1 AND event_time < $2', def)
        INTO n USING lo, hi;
    IF n = 0 THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, lo, hi);
    ELSE
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, def);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, lo, hi);
        EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE event_time >= $1 AND event_time < $2', part, def)
            USING lo, hi;
        EXECUTE format('DELETE FROM %I WHERE event_time >= $1 AND event_time < $2', def) USING lo, hi;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I DEFAULT', parent, def);
    END IF;
    RETURN true;
END;
$$;

-- Partitions for today and the week ahead exist from the start.
SELECT obs_ensure_day_partition(t, (now() AT TIME ZONE 'UTC')::date + d)
FROM unnest(ARRAY['events', 'tool_calls']) AS t, generate_series(0, 7) AS d;
