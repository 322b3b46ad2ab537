-- 0040_partition_function_race.sql - obs_ensure_day_partition() must be safe
-- from several places at once.
--
-- Found by tests/integration/tools/test_obsctl.py: three concurrent
-- `obsctl partitions maintain` failed with 'relation "events_p…" already
-- exists'. The advisory lock serialises the callers, but taking it does not
-- refresh the caller's catalog cache, so the re-check with to_regclass()
-- could still miss a partition another session had just committed. The
-- creation now runs in its own sub-transaction and a duplicate_table error
-- means "someone else created it" (the sub-transaction also undoes a
-- DETACH of the default partition on that path).
CREATE OR REPLACE FUNCTION obs_ensure_day_partition(parent text, day date) RETURNS boolean
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
    BEGIN
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
    EXCEPTION WHEN duplicate_table THEN
        RETURN false;
    END;
    RETURN true;
END;
$$;
