-- Instance environments sealed at rest (users keep passwords and tokens there). The service
-- seals with NIMBUS_COMPUTE_KEK (AES-256-GCM envelope, InstanceEnvCipher): SQL never sees the
-- key, so this migration only adds the column; rows written before it keep their plain `env`
-- until nimbus-compute re-seals them at its next start (before it serves). From then on `env`
-- stays '{}' and env_sealed holds the envelope (NULL when the environment is empty).
ALTER TABLE instances ADD COLUMN env_sealed bytea;
ALTER TABLE instances ADD CONSTRAINT instances_env_sealed_alone CHECK (env_sealed IS NULL OR env = '{}'::jsonb);
-- What the start-up pass looks for; empty once every row is sealed.
CREATE INDEX instances_env_plain ON instances (id) WHERE env_sealed IS NULL AND env <> '{}'::jsonb;
