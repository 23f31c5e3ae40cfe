-- nimbus-identity: users, tenants, members, roles, API keys, quotas, audit.
-- Every name is schema-qualified (identity.*), so nothing depends on search_path; the migrator
-- creates the schema. Every constraint is named so the repositories can map a violation to a
-- domain error by name.

CREATE TABLE identity.tenants (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    slug        text        NOT NULL,
    version     bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT tenants_slug_unique UNIQUE (slug),
    CONSTRAINT tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
);

CREATE TABLE identity.users (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    email              text        NOT NULL,
    name               text        NOT NULL,
    -- PHC string: $scrypt$ln=..,r=..,p=..$salt$hash (salt and parameters beside the hash).
    password_hash      text        NOT NULL,
    is_active          boolean     NOT NULL DEFAULT true,
    is_platform_admin  boolean     NOT NULL DEFAULT false,
    default_tenant_id  uuid,
    version            bigint      NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_default_tenant_fkey FOREIGN KEY (default_tenant_id) REFERENCES identity.tenants (id) ON DELETE SET NULL,
    CONSTRAINT users_email_format CHECK (char_length(email) BETWEEN 3 AND 254 AND email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT users_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT users_password_hash_format CHECK (password_hash LIKE '$scrypt$%')
);
-- Case-insensitive uniqueness without the citext extension (which needs a superuser).
CREATE UNIQUE INDEX users_email_unique ON identity.users (lower(email));

-- Built-in roles have tenant_id NULL; custom roles belong to one tenant.
CREATE TABLE identity.roles (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id    uuid,
    name         text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_pkey PRIMARY KEY (id),
    CONSTRAINT roles_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES identity.tenants (id) ON DELETE CASCADE,
    CONSTRAINT roles_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    CONSTRAINT roles_custom_not_builtin_name CHECK (tenant_id IS NULL OR name NOT IN ('admin', 'developer', 'viewer'))
);
CREATE UNIQUE INDEX roles_builtin_name_unique ON identity.roles (name) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX roles_tenant_name_unique ON identity.roles (tenant_id, name) WHERE tenant_id IS NOT NULL;

CREATE TABLE identity.role_permissions (
    role_id     uuid NOT NULL,
    permission  text NOT NULL,
    CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission),
    CONSTRAINT role_permissions_role_fkey FOREIGN KEY (role_id) REFERENCES identity.roles (id) ON DELETE CASCADE,
    CONSTRAINT role_permissions_format CHECK (permission ~ '^[a-z0-9_-]+:[a-z0-9_-]+$' AND char_length(permission) <= 64)
);

CREATE TABLE identity.tenant_members (
    tenant_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    role_id     uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_members_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT tenant_members_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES identity.tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_members_user_fkey FOREIGN KEY (user_id) REFERENCES identity.users (id) ON DELETE CASCADE,
    -- A custom role in use cannot be deleted (23503 → FAILED_PRECONDITION).
    CONSTRAINT tenant_members_role_fkey FOREIGN KEY (role_id) REFERENCES identity.roles (id) ON DELETE RESTRICT
);
CREATE INDEX tenant_members_user_idx ON identity.tenant_members (user_id);

-- API keys: nmb_<prefix>_<secret>. Only SHA-256 of the secret is stored; the prefix is the
-- public lookup handle. Rotation keeps the previous hash until previous_valid_until.
CREATE TABLE identity.api_keys (
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id               uuid        NOT NULL,
    tenant_id             uuid        NOT NULL,
    name                  text        NOT NULL,
    prefix                text        NOT NULL,
    secret_hash           bytea       NOT NULL,
    previous_secret_hash  bytea,
    previous_valid_until  timestamptz,
    expires_at            timestamptz,
    revoked_at            timestamptz,
    last_used_at          timestamptz,
    version               bigint      NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_prefix_unique UNIQUE (prefix),
    CONSTRAINT api_keys_user_fkey FOREIGN KEY (user_id) REFERENCES identity.users (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES identity.tenants (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT api_keys_prefix_format CHECK (prefix ~ '^[a-z0-9]{12}$'),
    CONSTRAINT api_keys_secret_hash_length CHECK (octet_length(secret_hash) = 32),
    CONSTRAINT api_keys_previous_pair CHECK ((previous_secret_hash IS NULL) = (previous_valid_until IS NULL)),
    CONSTRAINT api_keys_previous_hash_length CHECK (previous_secret_hash IS NULL OR octet_length(previous_secret_hash) = 32)
);
CREATE INDEX api_keys_tenant_user_idx ON identity.api_keys (tenant_id, user_id);

CREATE TABLE identity.tenant_quotas (
    tenant_id        uuid   NOT NULL,
    max_instances    bigint NOT NULL DEFAULT 10,
    used_instances   bigint NOT NULL DEFAULT 0,
    max_vcpus        bigint NOT NULL DEFAULT 20,
    used_vcpus       bigint NOT NULL DEFAULT 0,
    max_memory_mb    bigint NOT NULL DEFAULT 40960,
    used_memory_mb   bigint NOT NULL DEFAULT 0,
    max_storage_gb   bigint NOT NULL DEFAULT 500,
    used_storage_gb  bigint NOT NULL DEFAULT 0,
    max_buckets      bigint NOT NULL DEFAULT 10,
    used_buckets     bigint NOT NULL DEFAULT 0,
    max_databases    bigint NOT NULL DEFAULT 5,
    used_databases   bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_quotas_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT tenant_quotas_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES identity.tenants (id) ON DELETE CASCADE,
    CONSTRAINT tenant_quotas_instances_within CHECK (used_instances >= 0 AND used_instances <= max_instances),
    CONSTRAINT tenant_quotas_vcpus_within CHECK (used_vcpus >= 0 AND used_vcpus <= max_vcpus),
    CONSTRAINT tenant_quotas_memory_within CHECK (used_memory_mb >= 0 AND used_memory_mb <= max_memory_mb),
    CONSTRAINT tenant_quotas_storage_within CHECK (used_storage_gb >= 0 AND used_storage_gb <= max_storage_gb),
    CONSTRAINT tenant_quotas_buckets_within CHECK (used_buckets >= 0 AND used_buckets <= max_buckets),
    CONSTRAINT tenant_quotas_databases_within CHECK (used_databases >= 0 AND used_databases <= max_databases)
);

-- One row per idempotency key: replaying a Reserve finds it and reserves nothing more.
CREATE TABLE identity.quota_reservations (
    tenant_id        uuid        NOT NULL,
    idempotency_key  text        NOT NULL,
    instances        bigint      NOT NULL DEFAULT 0,
    vcpus            bigint      NOT NULL DEFAULT 0,
    memory_mb        bigint      NOT NULL DEFAULT 0,
    storage_gb       bigint      NOT NULL DEFAULT 0,
    buckets          bigint      NOT NULL DEFAULT 0,
    databases        bigint      NOT NULL DEFAULT 0,
    state            text        NOT NULL DEFAULT 'reserved',
    created_at       timestamptz NOT NULL DEFAULT now(),
    released_at      timestamptz,
    CONSTRAINT quota_reservations_pkey PRIMARY KEY (tenant_id, idempotency_key),
    CONSTRAINT quota_reservations_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES identity.tenants (id) ON DELETE CASCADE,
    CONSTRAINT quota_reservations_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    CONSTRAINT quota_reservations_state CHECK (state IN ('reserved', 'released')),
    CONSTRAINT quota_reservations_nonnegative CHECK (
        instances >= 0 AND vcpus >= 0 AND memory_mb >= 0 AND storage_gb >= 0 AND buckets >= 0 AND databases >= 0)
);

-- Audit log: per tenant a hash chain. hash = SHA-256(canonical entry ‖ prev_hash); the head
-- table serializes appends per tenant (row lock) and remembers the last hash, so deleting the
-- newest rows is detected too. No foreign key to tenants: the log outlives a deleted tenant.
CREATE TABLE identity.audit_events (
    tenant_id      uuid        NOT NULL,
    seq            bigint      NOT NULL,
    event_id       text        NOT NULL,
    actor_user_id  text        NOT NULL DEFAULT '',
    actor_key_id   text        NOT NULL DEFAULT '',
    action         text        NOT NULL,
    resource_type  text        NOT NULL,
    resource_id    text        NOT NULL DEFAULT '',
    outcome        text        NOT NULL,
    request_id     text        NOT NULL DEFAULT '',
    source         text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    metadata       jsonb       NOT NULL DEFAULT '{}',
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL,
    CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT audit_events_event_id_unique UNIQUE (event_id),
    CONSTRAINT audit_events_outcome CHECK (outcome IN ('success', 'failure', 'denied')),
    CONSTRAINT audit_events_seq_positive CHECK (seq > 0),
    CONSTRAINT audit_events_hash_length CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
);
CREATE INDEX audit_events_tenant_time_idx ON identity.audit_events (tenant_id, occurred_at);

CREATE TABLE identity.audit_chain_heads (
    tenant_id  uuid   NOT NULL,
    seq        bigint NOT NULL,
    hash       bytea  NOT NULL,
    CONSTRAINT audit_chain_heads_pkey PRIMARY KEY (tenant_id)
);

-- Bumped by every change that can invalidate a cached Authenticate answer (revocation,
-- rotation, membership, roles, deactivation). Every identity replica compares it to its cache
-- and hears the NOTIFY, so a revoked key fails on the very next request.
CREATE TABLE identity.auth_epoch (
    singleton  boolean NOT NULL DEFAULT true,
    epoch      bigint  NOT NULL DEFAULT 1,
    CONSTRAINT auth_epoch_pkey PRIMARY KEY (singleton),
    CONSTRAINT auth_epoch_singleton CHECK (singleton)
);
INSERT INTO identity.auth_epoch (singleton, epoch) VALUES (true, 1);

CREATE FUNCTION identity.bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next bigint;
BEGIN
    UPDATE identity.auth_epoch SET epoch = epoch + 1 WHERE singleton RETURNING epoch INTO next;
    PERFORM pg_notify('nimbus_identity_auth', next::text);
    RETURN NULL;
END;
$$;

-- last_used_at updates (batched) do not invalidate anything, hence the column list.
CREATE TRIGGER api_keys_auth_epoch
    AFTER UPDATE OF revoked_at, secret_hash, previous_secret_hash, previous_valid_until, expires_at, user_id, tenant_id
        OR DELETE ON identity.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION identity.bump_auth_epoch();
CREATE TRIGGER tenant_members_auth_epoch
    AFTER UPDATE OR DELETE ON identity.tenant_members FOR EACH STATEMENT EXECUTE FUNCTION identity.bump_auth_epoch();
CREATE TRIGGER role_permissions_auth_epoch
    AFTER INSERT OR UPDATE OR DELETE ON identity.role_permissions FOR EACH STATEMENT EXECUTE FUNCTION identity.bump_auth_epoch();
CREATE TRIGGER users_auth_epoch
    AFTER UPDATE OF is_active, is_platform_admin OR DELETE ON identity.users FOR EACH STATEMENT EXECUTE FUNCTION identity.bump_auth_epoch();
CREATE TRIGGER tenants_auth_epoch
    AFTER DELETE ON identity.tenants FOR EACH STATEMENT EXECUTE FUNCTION identity.bump_auth_epoch();

-- Built-in roles with fixed ids (BuiltInRole in NimbusPlatform/Auth; a test keeps them equal).
INSERT INTO identity.roles (id, tenant_id, name, description) VALUES
    ('00000000-0000-0000-0000-00000000a001', NULL, 'admin', 'Everything in the tenant, including members, roles and audit'),
    ('00000000-0000-0000-0000-00000000a002', NULL, 'developer', 'Create and manage resources; read members'),
    ('00000000-0000-0000-0000-00000000a003', NULL, 'viewer', 'Read resources and quotas');

INSERT INTO identity.role_permissions (role_id, permission)
SELECT '00000000-0000-0000-0000-00000000a003'::uuid, p FROM unnest(ARRAY[
    'instance:read', 'vpc:read', 'volume:read', 'bucket:read', 'database:read', 'quota:read', 'apikey:manage']) AS p;
INSERT INTO identity.role_permissions (role_id, permission)
SELECT '00000000-0000-0000-0000-00000000a002'::uuid, p FROM unnest(ARRAY[
    'instance:read', 'vpc:read', 'volume:read', 'bucket:read', 'database:read', 'quota:read', 'apikey:manage',
    'instance:launch', 'instance:manage', 'vpc:manage', 'volume:create', 'volume:manage',
    'bucket:write', 'bucket:manage', 'database:create', 'database:manage', 'iam:read']) AS p;
INSERT INTO identity.role_permissions (role_id, permission)
SELECT '00000000-0000-0000-0000-00000000a001'::uuid, p FROM unnest(ARRAY[
    'instance:read', 'vpc:read', 'volume:read', 'bucket:read', 'database:read', 'quota:read', 'apikey:manage',
    'instance:launch', 'instance:manage', 'vpc:manage', 'volume:create', 'volume:manage',
    'bucket:write', 'bucket:manage', 'database:create', 'database:manage', 'iam:read',
    'iam:manage', 'tenant:manage', 'audit:read']) AS p;
