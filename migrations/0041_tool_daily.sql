-- 0041_tool_daily.sql - daily tool statistics for GET /api/v1/tools
-- (expand only: the previous release neither reads nor writes them).
--
-- tool_daily holds, per tenant x UTC day (of the tool_use line's
-- event_time) x tool_name x duration bucket, the calls, errors and the sum
-- of their durations. bucket -1 holds the calls without a duration (no
-- result yet) and the day's distinct sessions of that tool (`sessions`, on
-- the -1 row only); bucket b >= 0 holds the calls whose duration_ms falls in
-- bucket b of obs_tool_bucket() (fixed log scale, 8 buckets per power of
-- two: p50/p95 from the buckets are within 4.5 % + 1 ms of the exact
-- percentile, docs/api.md "Tools", ADR 0032).
--
-- It is kept by statement-level AFTER INSERT / AFTER UPDATE triggers with
-- transition tables on the partitioned parent tool_calls, so obs-worker is
-- unchanged. A trigger appends the statement's net change to
-- tool_daily_delta (no row locks: concurrent workers never wait on each
-- other or deadlock on the hot rows of today); whichever transaction gets
-- pg_try_advisory_xact_lock folds the committed deltas into tool_daily.
-- The API sums both tables. An UPDATE that changes nothing (a redelivered
-- result) adds nothing; one that changes duration_ms / is_error /
-- event_time moves the call from its old bucket to its new one.
--
-- Rows written straight into a partition (obs_ensure_day_partition moving
-- rows out of the default partition) do not fire the parent's statement
-- triggers: a move is not a new call. Dropping a partition does not
-- subtract its calls (like daily_usage, the statistics outlive retention).
--
-- Re-runnable: the functions are replaced, the triggers recreated, and the
-- backfill recomputes both tables from tool_calls while tool_calls is
-- locked against writes.

-- Bucket of a duration in ms: NULL -> NULL, <= 0 -> 0, else b >= 1 with
-- obs_tool_bucket_lo(b) <= ms < obs_tool_bucket_lo(b + 1). The float
-- estimate is corrected against the integer bounds, so a value on a bound
-- lands in the same bucket whatever the rounding of ln().
CREATE OR REPLACE FUNCTION obs_tool_bucket_lo(b integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ceil(2::float8 ^ ((b - 1) / 8::float8))::bigint $$;

CREATE OR REPLACE FUNCTION obs_tool_bucket(ms bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN ms IS NULL THEN NULL WHEN ms < 1 THEN 0 ELSE
    1 + floor(8 * ln(ms::float8) / ln(2::float8))::integer
    + (ms >= ceil(2::float8 ^ ((1 + floor(8 * ln(ms::float8) / ln(2::float8))) / 8::float8)))::integer
    - (ms < ceil(2::float8 ^ (floor(8 * ln(ms::float8) / ln(2::float8)) / 8::float8)))::integer
END $$;

-- The value that stands for bucket b: the geometric mean of its smallest
-- and largest integer (every integer of the bucket is within a factor
-- 2^(1/16) of it; a bucket of one integer is exact).
CREATE OR REPLACE FUNCTION obs_tool_bucket_ms(b integer) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN b <= 0 THEN 0::float8
               ELSE sqrt(obs_tool_bucket_lo(b)::float8 * greatest(obs_tool_bucket_lo(b + 1) - 1, obs_tool_bucket_lo(b))) END $$;

CREATE TABLE IF NOT EXISTS tool_daily (
    tenant          text     NOT NULL,
    day             date     NOT NULL,             -- UTC day of tool_calls.event_time
    tool_name       text     NOT NULL,
    bucket          smallint NOT NULL,             -- -1: no duration (and `sessions`); else obs_tool_bucket(duration_ms)
    tool_category   text,                          -- min over the calls
    calls           bigint   NOT NULL DEFAULT 0,
    errors          bigint   NOT NULL DEFAULT 0,   -- is_error true
    duration_ms_sum bigint   NOT NULL DEFAULT 0,
    sessions        bigint   NOT NULL DEFAULT 0,   -- bucket -1 only: distinct sessions with a call that day
    PRIMARY KEY (tenant, day, tool_name, bucket)
);

-- Not yet folded changes (same columns, summed by the API).
CREATE TABLE IF NOT EXISTS tool_daily_delta (
    tenant          text     NOT NULL,
    day             date     NOT NULL,
    tool_name       text     NOT NULL,
    bucket          smallint NOT NULL,
    tool_category   text,
    calls           bigint   NOT NULL DEFAULT 0,
    errors          bigint   NOT NULL DEFAULT 0,
    duration_ms_sum bigint   NOT NULL DEFAULT 0,
    sessions        bigint   NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tool_daily_delta_idx ON tool_daily_delta (tenant, day);

-- Fold every visible delta into tool_daily when no other transaction is
-- folding (the advisory lock is held to the end of the transaction, so only
-- one transaction at a time locks tool_daily rows).
CREATE OR REPLACE FUNCTION obs_tool_daily_fold() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('observatory.tool_daily')) THEN
        RETURN;
    END IF;
    WITH moved AS (DELETE FROM tool_daily_delta RETURNING *)
    INSERT INTO tool_daily AS t (tenant, day, tool_name, bucket, tool_category, calls, errors, duration_ms_sum,
                                 sessions)
    SELECT tenant, day, tool_name, bucket, min(tool_category), sum(calls), sum(errors), sum(duration_ms_sum),
           sum(sessions)
      FROM moved
     GROUP BY tenant, day, tool_name, bucket
     ORDER BY tenant, day, tool_name, bucket
    ON CONFLICT (tenant, day, tool_name, bucket) DO UPDATE SET
        tool_category = CASE WHEN t.tool_category IS NULL THEN EXCLUDED.tool_category
                             ELSE least(t.tool_category, EXCLUDED.tool_category) END,
        calls = t.calls + EXCLUDED.calls, errors = t.errors + EXCLUDED.errors,
        duration_ms_sum = t.duration_ms_sum + EXCLUDED.duration_ms_sum, sessions = t.sessions + EXCLUDED.sessions;
END;
$$;

-- The change of a session-day's existence when the calls of (tenant,
-- session, tool, UTC day) changed by n in this statement: +1 when the calls
-- now in tool_calls are exactly the n new ones, -1 when n < 0 and none are
-- left. A bounded probe (LIMIT n + 1) on tool_calls_session_idx; a function
-- of its own so that its plan prunes to the one day partition instead of
-- opening every partition in each trigger call.
CREATE OR REPLACE FUNCTION obs_tool_session_day_delta(p_tenant text, p_session text, p_tool text, p_day date,
                                                      p_n bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
    k  bigint;
BEGIN
    SELECT count(*) INTO k FROM (
        SELECT 1 FROM tool_calls c
         WHERE c.tenant = p_tenant AND c.session_id = p_session AND c.event_time >= lo AND c.event_time < hi
           AND c.tool_name = p_tool
         LIMIT greatest(p_n, 0) + 1) x;
    RETURN CASE WHEN p_n > 0 THEN (k = p_n)::integer ELSE -((k = 0)::integer) END;
END;
$$;

-- The two trigger functions share one body; %1$s is the statement's signed
-- change as rows (sign, tenant, tool_use_id, event_time, session_id,
-- tool_name, tool_category, is_error, duration_ms): the new rows for an
-- INSERT; for an UPDATE the new rows that differ from every old one (+1)
-- and the old rows that differ from every new one (-1), so an UPDATE that
-- changes none of those columns adds nothing. Only INSERT statements fold
-- (obs-worker writes results one UPDATE per result: their deltas wait for
-- the next batch's insert).
DO $do$
DECLARE
    body text := $body$
BEGIN
    WITH d AS MATERIALIZED (
        SELECT sign, tenant, (event_time AT TIME ZONE 'UTC')::date AS day, tool_name, tool_category, session_id,
               coalesce(is_error, false)::integer AS err, duration_ms
          FROM (%1$s) x
    )
    INSERT INTO tool_daily_delta (tenant, day, tool_name, bucket, tool_category, calls, errors, duration_ms_sum,
                                  sessions)
    SELECT tenant, day, tool_name, bucket, min(cat), sum(calls), sum(errors), sum(dsum), sum(sess)
      FROM (SELECT tenant, day, tool_name, coalesce(obs_tool_bucket(duration_ms), -1) AS bucket, tool_category AS cat,
                   sign AS calls, sign * err AS errors, coalesce(sign * duration_ms, 0) AS dsum, 0 AS sess
              FROM d
            UNION ALL
            SELECT tenant, day, tool_name, -1, NULL, 0, 0, 0,
                   obs_tool_session_day_delta(tenant, session_id, tool_name, day, n)
              FROM (SELECT tenant, day, tool_name, session_id, sum(sign) AS n FROM d
                     GROUP BY 1, 2, 3, 4 HAVING sum(sign) <> 0) s) u
     GROUP BY 1, 2, 3, 4
    HAVING sum(calls) <> 0 OR sum(errors) <> 0 OR sum(dsum) <> 0 OR sum(sess) <> 0;
    IF TG_OP = 'INSERT' THEN
        PERFORM obs_tool_daily_fold();
    END IF;
    RETURN NULL;
END;
$body$;
    cols text := 'tenant, tool_use_id, event_time, session_id, tool_name, tool_category, is_error, duration_ms';
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION obs_tool_daily_ins() RETURNS trigger LANGUAGE plpgsql AS %L',
                   format(body, format('SELECT 1 AS sign, %s FROM new_rows', cols)));
    EXECUTE format('CREATE OR REPLACE FUNCTION obs_tool_daily_upd() RETURNS trigger LANGUAGE plpgsql AS %L',
                   format(body, format('SELECT 1 AS sign, * FROM (SELECT %1$s FROM new_rows EXCEPT ALL'
                                       ' SELECT %1$s FROM old_rows) a UNION ALL SELECT -1, * FROM (SELECT %1$s'
                                       ' FROM old_rows EXCEPT ALL SELECT %1$s FROM new_rows) r', cols)));
END;
$do$;

DROP TRIGGER IF EXISTS tool_calls_daily_ins ON tool_calls;
DROP TRIGGER IF EXISTS tool_calls_daily_upd ON tool_calls;
CREATE TRIGGER tool_calls_daily_ins AFTER INSERT ON tool_calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION obs_tool_daily_ins();
CREATE TRIGGER tool_calls_daily_upd AFTER UPDATE ON tool_calls
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION obs_tool_daily_upd();

-- Backfill: writers wait until this transaction commits (the triggers exist
-- from then on), so no call is missed or counted twice.
LOCK TABLE tool_calls IN SHARE MODE;
TRUNCATE tool_daily, tool_daily_delta;
INSERT INTO tool_daily (tenant, day, tool_name, bucket, tool_category, calls, errors, duration_ms_sum, sessions)
SELECT tenant, day, tool_name, bucket, min(tool_category), sum(calls), sum(errors), sum(dsum), sum(sessions)
  FROM (SELECT c.tenant, (c.event_time AT TIME ZONE 'UTC')::date AS day, c.tool_name,
               coalesce(obs_tool_bucket(c.duration_ms), -1) AS bucket, min(c.tool_category) AS tool_category,
               count(*) AS calls, count(*) FILTER (WHERE c.is_error) AS errors,
               coalesce(sum(c.duration_ms), 0) AS dsum, 0::bigint AS sessions
          FROM tool_calls c GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT c.tenant, (c.event_time AT TIME ZONE 'UTC')::date, c.tool_name, -1, NULL, 0, 0, 0,
               count(DISTINCT c.session_id)
          FROM tool_calls c GROUP BY 1, 2, 3) u
 GROUP BY tenant, day, tool_name, bucket;
