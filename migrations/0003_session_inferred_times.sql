-- 0003_session_inferred_times.sql - a session whose lines carry no timestamp
-- (a summary-only file) still gets first/last event times: the producer's
-- observed time, flagged here so that the first real timestamps replace them.
-- Expand-only: the previous release keeps working (it never reads the flag).
ALTER TABLE sessions ADD COLUMN times_inferred boolean NOT NULL DEFAULT false;
