-- 0011_derive_generic_plans.sql - obs_session_derive plans its statements
-- once per connection (expand only; no result changes).
--
-- The worker calls the seven-argument obs_session_derive for every session
-- a batch touched. With the default plan_cache_mode each of its statements
-- over events and tool_calls (a partition per day) kept taking a custom
-- plan: the generic plan's estimated cost spans every partition, so it
-- never wins the cost comparison, and each call planned every statement
-- again. Statement logs put the nested statements' execution at ~40 % of
-- the function's time, the rest mostly planning. A generic plan prunes the
-- partitions at executor start instead (the session and time range are
-- parameters). bench/workers/quick.sh, 696,816 lines, one worker: derive
-- 9.0 s -> 7.1 s of database time (docs/adr/0024, fourth pass).
ALTER FUNCTION obs_session_derive(text, text, timestamptz, timestamptz, text[], boolean, boolean)
    SET plan_cache_mode = force_generic_plan;
