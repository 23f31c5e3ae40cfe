-- Back to the audit-only outbox; undelivered audit events move back with their ids.
ALTER TABLE outbox RENAME TO outbox_0003;
ALTER TABLE outbox_0003 RENAME CONSTRAINT outbox_pkey TO outbox_0003_pkey;
ALTER TABLE outbox_0003 RENAME CONSTRAINT outbox_event_id_unique TO outbox_0003_event_id_unique;
ALTER INDEX outbox_pending RENAME TO outbox_0003_pending;

CREATE TABLE outbox (
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    event_id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id      uuid        NOT NULL,
    actor_user_id  text        NOT NULL DEFAULT '',
    actor_key_id   text        NOT NULL DEFAULT '',
    action         text        NOT NULL,
    resource_type  text        NOT NULL,
    resource_id    text        NOT NULL,
    outcome        text        NOT NULL DEFAULT 'SUCCESS',
    request_id     text        NOT NULL DEFAULT '',
    metadata       jsonb       NOT NULL DEFAULT '{}',
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz,
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text        NOT NULL DEFAULT '',
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_event_id_unique UNIQUE (event_id),
    CONSTRAINT outbox_outcome CHECK (outcome IN ('SUCCESS', 'FAILURE', 'DENIED'))
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;

INSERT INTO outbox (event_id, tenant_id, actor_user_id, actor_key_id, action, resource_type, resource_id, outcome, metadata,
                    occurred_at, attempts, last_error)
SELECT event_id, (payload->>'tenant_id')::uuid, payload->>'actor_user_id', payload->>'actor_key_id', payload->>'action',
       payload->>'resource_type', payload->>'resource_id', payload->>'outcome', coalesce(payload->'metadata', '{}'),
       created_at, attempts, last_error
FROM outbox_0003 WHERE topic = 'audit' AND delivered_at IS NULL ORDER BY id;
DROP TABLE outbox_0003;
