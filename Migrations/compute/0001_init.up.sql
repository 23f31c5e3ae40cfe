-- nimbus-compute: instance types, images, VPCs, instances, the audit outbox and worker leases.
-- Runs inside the compute schema (the migrator sets search_path). Tenants and users live in
-- identity: they are referenced by id only (no foreign keys across services). Every
-- constraint is named so the repositories can map a violation to a domain error.

CREATE TABLE instance_types (
    id              text          NOT NULL,
    name            text          NOT NULL,
    vcpus           integer       NOT NULL,
    memory_mb       integer       NOT NULL,
    disk_gb         integer       NOT NULL,
    network_mbps    integer       NOT NULL DEFAULT 1000,
    price_per_hour  numeric(10,4) NOT NULL DEFAULT 0.01,
    category        text          NOT NULL DEFAULT 'general',
    created_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT instance_types_pkey PRIMARY KEY (id),
    CONSTRAINT instance_types_id_format CHECK (id ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT instance_types_sizes CHECK (vcpus > 0 AND memory_mb >= 64 AND disk_gb > 0 AND network_mbps > 0),
    CONSTRAINT instance_types_category CHECK (category IN ('general', 'compute', 'memory', 'performance'))
);

INSERT INTO instance_types (id, name, vcpus, memory_mb, disk_gb, network_mbps, price_per_hour, category) VALUES
    ('basic-1',       'Basic 1',       1,   512, 10,  500, 0.0050, 'general'),
    ('basic-2',       'Basic 2',       1,  1024, 20, 1000, 0.0100, 'general'),
    ('standard-1',    'Standard 1',    2,  2048, 40, 1000, 0.0200, 'general'),
    ('standard-2',    'Standard 2',    2,  4096, 60, 2000, 0.0400, 'general'),
    ('performance-1', 'Performance 1', 4,  8192, 80, 5000, 0.0800, 'performance'),
    ('performance-2', 'Performance 2', 8, 16384, 160, 10000, 0.1600, 'performance');

-- Images: a tenant's own (imported root filesystems) or the platform's (tenant_id NULL).
-- Deleted images stay as rows (state DELETED) for the instances that ran them.
CREATE TABLE images (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id        uuid,
    name             text        NOT NULL,
    -- The engine's reference, e.g. localhost/nimbus/busybox or localhost/nimbus/t-<tenant>/<name>.
    reference        text        NOT NULL,
    engine_image_id  text        NOT NULL DEFAULT '',
    size_bytes       bigint      NOT NULL DEFAULT 0,
    state            text        NOT NULL DEFAULT 'AVAILABLE',
    description      text        NOT NULL DEFAULT '',
    version          bigint      NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT images_pkey PRIMARY KEY (id),
    CONSTRAINT images_name_format CHECK (name ~ '^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?(:[a-z0-9._-]{1,64})?$'),
    CONSTRAINT images_state CHECK (state IN ('IMPORTING', 'AVAILABLE', 'DELETED')),
    CONSTRAINT images_size CHECK (size_bytes >= 0)
);
CREATE UNIQUE INDEX images_tenant_name_unique ON images (tenant_id, name) WHERE tenant_id IS NOT NULL AND state <> 'DELETED';
CREATE UNIQUE INDEX images_platform_name_unique ON images (name) WHERE tenant_id IS NULL AND state <> 'DELETED';
CREATE UNIQUE INDEX images_reference_unique ON images (reference);

INSERT INTO images (tenant_id, name, reference, description) VALUES
    (NULL, 'busybox', 'localhost/nimbus/busybox', 'Debian busybox-static: sh, httpd, nc, wget …');

-- VPCs: one container network each. CIDRs of one tenant never overlap (checked under a
-- per-tenant advisory lock: an exclusion constraint would need btree_gist).
CREATE TABLE vpcs (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL,
    created_by    uuid        NOT NULL,
    name          text        NOT NULL,
    cidr          cidr        NOT NULL,
    -- The engine network's name and host bridge (nimbus-vpc-<id>, nv<12 hex>).
    network_name  text        NOT NULL,
    bridge_name   text        NOT NULL,
    state         text        NOT NULL DEFAULT 'AVAILABLE',
    version       bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vpcs_pkey PRIMARY KEY (id),
    CONSTRAINT vpcs_tenant_name_unique UNIQUE (tenant_id, name),
    CONSTRAINT vpcs_network_name_unique UNIQUE (network_name),
    CONSTRAINT vpcs_name_format CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT vpcs_cidr_ipv4 CHECK (family(cidr) = 4 AND masklen(cidr) BETWEEN 16 AND 28),
    CONSTRAINT vpcs_state CHECK (state IN ('AVAILABLE', 'DELETING'))
);
CREATE INDEX vpcs_tenant ON vpcs (tenant_id, created_at, id);

-- Instances: the state machine lives in the domain (InstanceStateMachine); the check below
-- only keeps stray values out.
CREATE TABLE instances (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id      uuid        NOT NULL,
    created_by     uuid        NOT NULL,
    name           text        NOT NULL,
    image_id       uuid        NOT NULL,
    image_ref      text        NOT NULL,
    instance_type  text        NOT NULL,
    vpc_id         uuid,
    state          text        NOT NULL DEFAULT 'PENDING',
    state_reason   text        NOT NULL DEFAULT '',
    exit_code      integer,
    -- What the instance runs: command ([] = the image's), environment, published ports
    -- ([{"container_port":8080,"protocol":"tcp","host_port":0}]) and user labels.
    command        jsonb       NOT NULL DEFAULT '[]',
    env            jsonb       NOT NULL DEFAULT '{}',
    ports          jsonb       NOT NULL DEFAULT '[]',
    labels         jsonb       NOT NULL DEFAULT '{}',
    container_id   text,
    private_ip     text        NOT NULL DEFAULT '',
    -- Ports as the engine published them, same shape as ports with host_port filled in.
    published      jsonb       NOT NULL DEFAULT '[]',
    -- The quota reservation (identity ReserveQuota/ReleaseQuota idempotency key).
    quota_key      text        NOT NULL,
    quota_state    text        NOT NULL DEFAULT 'NONE',
    -- The worker that owns a transition in flight and until when (FOR UPDATE SKIP LOCKED leases).
    worker_lease   timestamptz,
    version        bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    launched_at    timestamptz,
    terminated_at  timestamptz,
    CONSTRAINT instances_pkey PRIMARY KEY (id),
    CONSTRAINT instances_image_fkey FOREIGN KEY (image_id) REFERENCES images (id),
    CONSTRAINT instances_type_fkey FOREIGN KEY (instance_type) REFERENCES instance_types (id),
    CONSTRAINT instances_vpc_fkey FOREIGN KEY (vpc_id) REFERENCES vpcs (id) ON DELETE SET NULL,
    CONSTRAINT instances_quota_key_unique UNIQUE (quota_key),
    CONSTRAINT instances_name_format CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT instances_state CHECK (state IN
        ('PENDING', 'RUNNING', 'STOPPING', 'STOPPED', 'STARTING', 'REBOOTING', 'TERMINATING', 'TERMINATED', 'ERROR')),
    CONSTRAINT instances_quota_state CHECK (quota_state IN ('NONE', 'RESERVED', 'RELEASE_PENDING', 'RELEASED')),
    CONSTRAINT instances_version_positive CHECK (version > 0)
);
-- Names are unique among a tenant's live instances; a terminated name can be reused.
CREATE UNIQUE INDEX instances_tenant_name_unique ON instances (tenant_id, name) WHERE state <> 'TERMINATED';
CREATE INDEX instances_tenant_page ON instances (tenant_id, created_at, id);
CREATE INDEX instances_work ON instances (updated_at) WHERE state IN ('PENDING', 'STOPPING', 'STARTING', 'REBOOTING', 'TERMINATING') OR quota_state = 'RELEASE_PENDING';
CREATE INDEX instances_vpc ON instances (vpc_id) WHERE vpc_id IS NOT NULL AND state <> 'TERMINATED';
CREATE INDEX instances_image ON instances (image_id) WHERE state <> 'TERMINATED';

-- Audit events on their way to identity (AppendAuditEvents), written in the same
-- transaction as the change they record; delivered at least once, idempotent by event_id.
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

-- This deployment's identity: its containers carry it as a label, so two deployments that
-- share one engine never take each other's containers for orphans.
CREATE TABLE deployment (
    singleton  boolean NOT NULL DEFAULT true,
    id         uuid    NOT NULL DEFAULT gen_random_uuid(),
    CONSTRAINT deployment_pkey PRIMARY KEY (singleton),
    CONSTRAINT deployment_singleton CHECK (singleton)
);
INSERT INTO deployment DEFAULT VALUES;

-- Singleton background work (the reconciler): one replica holds a lease at a time and
-- renews it; another takes over once it expires.
CREATE TABLE worker_leases (
    name        text        NOT NULL,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT worker_leases_pkey PRIMARY KEY (name)
);
