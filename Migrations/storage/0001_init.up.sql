-- nimbus-storage: buckets, object versions, multipart uploads, blobs awaiting the janitor, the
-- audit outbox, quota grants and worker leases. Runs inside the storage schema. Tenants live in
-- identity and are referenced by id only. Object bytes live in the blob store (a data
-- directory or an S3-compatible cluster); rows here decide what exists (strong consistency).

-- Bucket names are unique platform-wide (S3 addressing has no tenant in it).
CREATE TABLE buckets (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    name         text        NOT NULL,
    tenant_id    uuid        NOT NULL,
    created_by   text        NOT NULL DEFAULT '',
    versioning   text        NOT NULL DEFAULT 'UNVERSIONED',
    public_read  boolean     NOT NULL DEFAULT false,
    -- [{id, prefix, expiration_days, abort_incomplete_days, noncurrent_days, enabled}]
    lifecycle    jsonb       NOT NULL DEFAULT '[]',
    tags         jsonb       NOT NULL DEFAULT '{}',
    -- The idempotency key of the `buckets` reservation in identity (released on delete).
    quota_key    text        NOT NULL,
    version      bigint      NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT buckets_pkey PRIMARY KEY (id),
    CONSTRAINT buckets_name_unique UNIQUE (name),
    CONSTRAINT buckets_name_format CHECK (name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'),
    CONSTRAINT buckets_versioning CHECK (versioning IN ('UNVERSIONED', 'ENABLED', 'SUSPENDED'))
);
CREATE INDEX buckets_tenant ON buckets (tenant_id, name);

-- One row per object version (a delete marker too). Keys sort bytewise (COLLATE "C") as S3
-- lists them. At most one row per key is the latest; the unversioned/suspended version id
-- is the literal 'null'.
CREATE TABLE objects (
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    bucket_id      uuid        NOT NULL,
    key            text        COLLATE "C" NOT NULL,
    version_id     text        NOT NULL,
    is_latest      boolean     NOT NULL,
    delete_marker  boolean     NOT NULL DEFAULT false,
    size           bigint      NOT NULL DEFAULT 0,
    etag           text        NOT NULL DEFAULT '',
    -- {"CRC32": base64, "CRC32C": …, "SHA1": …, "SHA256": …} as stored or computed.
    checksums      jsonb       NOT NULL DEFAULT '{}',
    -- Content-Type, -Encoding, -Disposition, -Language, Cache-Control, Expires.
    headers        jsonb       NOT NULL DEFAULT '{}',
    user_metadata  jsonb       NOT NULL DEFAULT '{}',
    -- Multipart objects: part sizes in order (for partNumber reads and the -N ETag).
    part_sizes     bigint[]    NOT NULL DEFAULT '{}',
    -- The blobs holding the bytes, in order (one; a multipart object keeps its parts' blobs,
    -- so completing an upload copies nothing; a server-side copy shares the source's). Empty
    -- for a delete marker. Blobs are immutable: a blob goes once no row references it.
    blobs          text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT objects_pkey PRIMARY KEY (id),
    CONSTRAINT objects_bucket_fkey FOREIGN KEY (bucket_id) REFERENCES buckets (id),
    CONSTRAINT objects_version_unique UNIQUE (bucket_id, key, version_id),
    CONSTRAINT objects_size CHECK (size >= 0),
    CONSTRAINT objects_marker_blobs CHECK (NOT delete_marker OR cardinality(blobs) = 0)
);
CREATE UNIQUE INDEX objects_latest_unique ON objects (bucket_id, key) WHERE is_latest;
CREATE INDEX objects_versions ON objects (bucket_id, key, id DESC);
CREATE INDEX objects_blobs ON objects USING gin (blobs);

CREATE TABLE multipart_uploads (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    bucket_id      uuid        NOT NULL,
    key            text        COLLATE "C" NOT NULL,
    tenant_id      uuid        NOT NULL,
    headers        jsonb       NOT NULL DEFAULT '{}',
    user_metadata  jsonb       NOT NULL DEFAULT '{}',
    checksum_algorithm text    NOT NULL DEFAULT '',
    state          text        NOT NULL DEFAULT 'ACTIVE',
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT multipart_uploads_pkey PRIMARY KEY (id),
    CONSTRAINT multipart_uploads_bucket_fkey FOREIGN KEY (bucket_id) REFERENCES buckets (id),
    CONSTRAINT multipart_uploads_state CHECK (state IN ('ACTIVE', 'COMPLETING'))
);
CREATE INDEX multipart_uploads_bucket ON multipart_uploads (bucket_id, key, created_at, id);

-- A part re-uploaded under the same number replaces the earlier one (whose blob goes to the
-- janitor).
CREATE TABLE multipart_parts (
    upload_id    uuid        NOT NULL,
    part_number  integer     NOT NULL,
    size         bigint      NOT NULL,
    etag         text        NOT NULL,
    checksums    jsonb       NOT NULL DEFAULT '{}',
    blob         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT multipart_parts_pkey PRIMARY KEY (upload_id, part_number),
    CONSTRAINT multipart_parts_upload_fkey FOREIGN KEY (upload_id) REFERENCES multipart_uploads (id) ON DELETE CASCADE,
    CONSTRAINT multipart_parts_number CHECK (part_number BETWEEN 1 AND 10000)
);
CREATE INDEX multipart_parts_blob ON multipart_parts (blob);

-- Blobs that may be unreferenced: entered (and committed) before the bytes are written, so a
-- crash between writing and the metadata commit leaves the entry behind, and again when a
-- version or part goes away. The janitor deletes the bytes once `delete_after` has passed
-- and no row references them (a reader that looked the row up just before still finds them
-- during the grace period).
CREATE TABLE blob_tombstones (
    blob          text        NOT NULL,
    delete_after  timestamptz NOT NULL,
    CONSTRAINT blob_tombstones_pkey PRIMARY KEY (blob)
);
CREATE INDEX blob_tombstones_due ON blob_tombstones (delete_after);

-- Bytes stored per tenant, and the 1 GB `storage_gb` reservations held for them in identity.
CREATE TABLE tenant_usage (
    tenant_id    uuid   NOT NULL,
    bytes        bigint NOT NULL DEFAULT 0,
    CONSTRAINT tenant_usage_pkey PRIMARY KEY (tenant_id)
);
CREATE TABLE quota_grants (
    tenant_id    uuid        NOT NULL,
    quota_key    text        NOT NULL,
    state        text        NOT NULL DEFAULT 'HELD',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT quota_grants_pkey PRIMARY KEY (quota_key),
    CONSTRAINT quota_grants_state CHECK (state IN ('HELD', 'RELEASE_PENDING'))
);
CREATE INDEX quota_grants_tenant ON quota_grants (tenant_id) WHERE state = 'HELD';

-- NimbusBackground's tables (BackgroundSchema.migrationSQL): leases for single-leader work
-- (the janitor) and the outbox for audit events written in the business transaction.
CREATE TABLE worker_leases (
    name        text        NOT NULL,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT worker_leases_pkey PRIMARY KEY (name)
);

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
