-- S3 credentials: an API key may carry one SigV4 access key. The access key id is public; the
-- secret is sealed by nimbus-identity (AES-256-GCM envelope under NIMBUS_IDENTITY_KEK, bound to
-- the access key id) before it reaches this table, so SQL never sees it. Revoking, expiring or
-- deleting the API key ends the S3 credential with it (GetSigningKey joins through the key).
CREATE TABLE identity.s3_credentials (
    access_key_id  text        NOT NULL,
    api_key_id     uuid        NOT NULL,
    secret_sealed  bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT s3_credentials_pkey PRIMARY KEY (access_key_id),
    CONSTRAINT s3_credentials_api_key_unique UNIQUE (api_key_id),
    CONSTRAINT s3_credentials_api_key_fkey FOREIGN KEY (api_key_id) REFERENCES identity.api_keys (id) ON DELETE CASCADE,
    CONSTRAINT s3_credentials_access_key_format CHECK (access_key_id ~ '^NKIA[A-Z2-7]{16}$'),
    CONSTRAINT s3_credentials_sealed_length CHECK (octet_length(secret_sealed) BETWEEN 64 AND 1024)
);
