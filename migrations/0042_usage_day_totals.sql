-- 0042_usage_day_totals.sql - daily_usage summed per tenant x UTC day, for
-- GET /api/v1/usage?group_by=day|week without project/user/host/model
-- filters (expand only: the previous release ignores it). ADR 0032.
--
-- daily_usage has one row per day x project x model x user x host, so a
-- tenant's day holds as many rows as it has such combinations, and the
-- day buckets cost more as more of them appear. usage_day keeps the day's
-- totals. Like tool_daily (0041) it is kept by statement-level AFTER INSERT
-- / AFTER UPDATE triggers with transition tables on daily_usage (obs-worker
-- upserts daily_usage with INSERT ... ON CONFLICT DO UPDATE: new keys reach
-- the INSERT trigger, added amounts the UPDATE trigger as new - old); they
-- append to usage_day_delta and fold it into usage_day only under
-- pg_try_advisory_xact_lock, so concurrent workers never wait on the row of
-- today. The API sums both tables.
--
-- Re-runnable: functions replaced, triggers recreated, both tables
-- recomputed from daily_usage while daily_usage is locked against writes.

CREATE TABLE IF NOT EXISTS usage_day (
    tenant                text          NOT NULL,
    day                   date          NOT NULL,
    messages              bigint        NOT NULL DEFAULT 0,
    input_tokens          bigint        NOT NULL DEFAULT 0,
    output_tokens         bigint        NOT NULL DEFAULT 0,
    cache_creation_tokens bigint        NOT NULL DEFAULT 0,
    cache_read_tokens     bigint        NOT NULL DEFAULT 0,
    cost_usd              numeric(20,9) NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, day)
);

CREATE TABLE IF NOT EXISTS usage_day_delta (
    tenant                text          NOT NULL,
    day                   date          NOT NULL,
    messages              bigint        NOT NULL DEFAULT 0,
    input_tokens          bigint        NOT NULL DEFAULT 0,
    output_tokens         bigint        NOT NULL DEFAULT 0,
    cache_creation_tokens bigint        NOT NULL DEFAULT 0,
    cache_read_tokens     bigint        NOT NULL DEFAULT 0,
    cost_usd              numeric(20,9) NOT NULL DEFAULT 0
);

CREATE OR REPLACE FUNCTION obs_usage_day_fold() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('observatory.usage_day')) THEN
        RETURN;
    END IF;
    WITH moved AS (DELETE FROM usage_day_delta RETURNING *)
    INSERT INTO usage_day AS u (tenant, day, messages, input_tokens, output_tokens, cache_creation_tokens,
                                cache_read_tokens, cost_usd)
    SELECT tenant, day, sum(messages), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
           sum(cache_read_tokens), sum(cost_usd)
      FROM moved GROUP BY tenant, day ORDER BY tenant, day
    ON CONFLICT (tenant, day) DO UPDATE SET
        messages = u.messages + EXCLUDED.messages, input_tokens = u.input_tokens + EXCLUDED.input_tokens,
        output_tokens = u.output_tokens + EXCLUDED.output_tokens,
        cache_creation_tokens = u.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
        cache_read_tokens = u.cache_read_tokens + EXCLUDED.cache_read_tokens,
        cost_usd = u.cost_usd + EXCLUDED.cost_usd;
END;
$$;

CREATE OR REPLACE FUNCTION obs_usage_day_ins() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_day_delta (tenant, day, messages, input_tokens, output_tokens, cache_creation_tokens,
                                 cache_read_tokens, cost_usd)
    SELECT tenant, day, sum(messages), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
           sum(cache_read_tokens), sum(cost_usd)
      FROM new_rows GROUP BY tenant, day;
    PERFORM obs_usage_day_fold();
    RETURN NULL;
END;
$$;

-- new - old per (tenant, day); rows whose amounts did not change add nothing.
CREATE OR REPLACE FUNCTION obs_usage_day_upd() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_day_delta (tenant, day, messages, input_tokens, output_tokens, cache_creation_tokens,
                                 cache_read_tokens, cost_usd)
    SELECT tenant, day, sum(m), sum(i), sum(o), sum(cc), sum(cr), sum(c)
      FROM (SELECT tenant, day, messages AS m, input_tokens AS i, output_tokens AS o, cache_creation_tokens AS cc,
                   cache_read_tokens AS cr, cost_usd AS c FROM new_rows
            UNION ALL
            SELECT tenant, day, -messages, -input_tokens, -output_tokens, -cache_creation_tokens,
                   -cache_read_tokens, -cost_usd FROM old_rows) d
     GROUP BY tenant, day
    HAVING sum(m) <> 0 OR sum(i) <> 0 OR sum(o) <> 0 OR sum(cc) <> 0 OR sum(cr) <> 0 OR sum(c) <> 0;
    PERFORM obs_usage_day_fold();
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS daily_usage_day_ins ON daily_usage;
DROP TRIGGER IF EXISTS daily_usage_day_upd ON daily_usage;
CREATE TRIGGER daily_usage_day_ins AFTER INSERT ON daily_usage
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION obs_usage_day_ins();
CREATE TRIGGER daily_usage_day_upd AFTER UPDATE ON daily_usage
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION obs_usage_day_upd();

LOCK TABLE daily_usage IN SHARE MODE;
TRUNCATE usage_day, usage_day_delta;
INSERT INTO usage_day (tenant, day, messages, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens,
                       cost_usd)
SELECT tenant, day, sum(messages), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
       sum(cache_read_tokens), sum(cost_usd)
  FROM daily_usage GROUP BY tenant, day;
