-- The shared background-work tables (NimbusBackground's BackgroundSchema.migrationSQL):
-- worker_leases already has that shape; the audit outbox becomes the generic outbox, its
-- events a JSON payload under topic 'audit'. Undelivered events move over with their ids.
ALTER TABLE outbox RENAME TO outbox_0001;
ALTER TABLE outbox_0001 RENAME CONSTRAINT outbox_pkey TO outbox_0001_pkey;
ALTER TABLE outbox_0001 RENAME CONSTRAINT outbox_event_id_unique TO outbox_0001_event_id_unique;
ALTER INDEX outbox_pending RENAME TO outbox_0001_pending;

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

INSERT INTO outbox (event_id, topic, payload, created_at, attempts, last_error)
SELECT event_id, 'audit',
       jsonb_build_object('tenant_id', tenant_id::text, 'actor_user_id', actor_user_id, 'actor_key_id', actor_key_id,
                          'action', action, 'resource_type', resource_type, 'resource_id', resource_id,
                          'outcome', outcome, 'metadata', metadata),
       occurred_at, attempts, last_error
FROM outbox_0001 WHERE delivered_at IS NULL ORDER BY id;
DROP TABLE outbox_0001;
