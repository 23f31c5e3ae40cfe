-- Reverses 0002_auth_leases.up.sql: the trigger function as 0001 made it, no watcher table.
CREATE OR REPLACE FUNCTION identity.bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next bigint;
BEGIN
    UPDATE identity.auth_epoch SET epoch = epoch + 1 WHERE singleton RETURNING epoch INTO next;
    PERFORM pg_notify('nimbus_identity_auth', next::text);
    RETURN NULL;
END;
$$;
DROP TABLE IF EXISTS identity.auth_watchers;
