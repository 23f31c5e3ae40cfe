-- Auth leases: gateways cache Authenticate answers while they hold a lease on the current auth
-- epoch (AckAuthEpoch). A change that bumps the epoch waits, after its commit and before it
-- answers, until every watcher with an unexpired lease has acknowledged the new epoch.

CREATE TABLE identity.auth_watchers (
    watcher_id        text        NOT NULL,
    acked_epoch       bigint      NOT NULL,
    lease_expires_at  timestamptz NOT NULL,
    CONSTRAINT auth_watchers_pkey PRIMARY KEY (watcher_id),
    CONSTRAINT auth_watchers_id_length CHECK (char_length(watcher_id) BETWEEN 1 AND 128)
);

-- Same bump as before, plus the new epoch in a transaction-local setting, so the transaction
-- that caused it can learn (in one read, before it commits) that it must wait for the acks.
CREATE OR REPLACE FUNCTION identity.bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next bigint;
BEGIN
    UPDATE identity.auth_epoch SET epoch = epoch + 1 WHERE singleton RETURNING epoch INTO next;
    PERFORM pg_notify('nimbus_identity_auth', next::text);
    PERFORM set_config('nimbus.auth_epoch_bumped', next::text, true);
    RETURN NULL;
END;
$$;
