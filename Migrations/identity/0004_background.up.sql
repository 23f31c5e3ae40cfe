-- The shared background-work tables (NimbusBackground's BackgroundSchema.migrationSQL): the
-- housekeeping lease, and an outbox for identity's own messages to come.
-- Leases: one holder per name at a time (leader election across replicas); the holder
-- renews before expires_at, anyone may take a name whose lease expired.
CREATE TABLE worker_leases (
    name        text        NOT NULL,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT worker_leases_pkey PRIMARY KEY (name)
);

-- Messages written in the business transaction that produced them and delivered by a
-- relay afterwards (at least once; receivers skip duplicates by event_id). A relay claims
-- a batch until claimed_until; a relay that crashed loses its claim when it expires.
CREATE TABLE outbox (
    id               bigint      GENERATED ALWAYS AS IDENTITY,
    event_id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    topic            text        NOT NULL,
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    delivered_at     timestamptz,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_event_id_unique UNIQUE (event_id)
);
CREATE INDEX outbox_pending ON outbox (topic, next_attempt_at, id) WHERE delivered_at IS NULL;
