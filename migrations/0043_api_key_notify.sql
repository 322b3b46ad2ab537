-- 0043_api_key_notify.sql - every change to api_keys that can make a cached
-- key invalid sends NOTIFY observatory_api_keys, in the changing
-- transaction (delivered at its commit, never for a rollback). obs-api
-- keeps one LISTEN connection and drops every cached key lookup when a
-- notification arrives, so a revocation takes effect on the next request
-- instead of up to auth.cache_s seconds later. ADR 0033.
--
-- A trigger rather than a NOTIFY in obsctl: it also covers keys revoked,
-- expired, re-scoped or deleted by hand-written SQL. Inserts do not notify
-- (obs-api never caches an unknown key). Statement level: one notification
-- per statement however many keys it touches; NOTIFYs with the same channel
-- and payload in one transaction are folded into one by PostgreSQL.
--
-- Expand only (the previous release ignores the notifications).
-- Re-runnable: function replaced, trigger recreated.

CREATE OR REPLACE FUNCTION obs_api_keys_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('observatory_api_keys', TG_OP);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS api_keys_notify_update ON api_keys;
CREATE TRIGGER api_keys_notify_update
    AFTER UPDATE OF tenant, key_hash, scopes, expires_at, revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION obs_api_keys_notify();

DROP TRIGGER IF EXISTS api_keys_notify_delete ON api_keys;
CREATE TRIGGER api_keys_notify_delete
    AFTER DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION obs_api_keys_notify();

DROP TRIGGER IF EXISTS api_keys_notify_truncate ON api_keys;
CREATE TRIGGER api_keys_notify_truncate
    AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION obs_api_keys_notify();
