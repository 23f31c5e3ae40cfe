-- Failed-login counters shared by every identity replica (they used to live in each process,
-- so N replicas gave N times the attempts and a restart forgot them). One row per account,
-- keyed by SHA-256 of a domain label and lower(trimmed email), so attempted emails are not kept
-- in plain text. An attempt is counted before its password is checked, by a single-statement
-- upsert, so concurrent attempts on several replicas can never exceed the limit together.
-- A row whose window has passed counts as empty; the background loop deletes such rows.
CREATE TABLE identity.login_failures (
    account_hash  bytea       NOT NULL,
    failures      integer     NOT NULL,
    window_start  timestamptz NOT NULL,
    CONSTRAINT login_failures_pkey PRIMARY KEY (account_hash),
    CONSTRAINT login_failures_hash_length CHECK (octet_length(account_hash) = 32),
    CONSTRAINT login_failures_positive CHECK (failures > 0)
);
CREATE INDEX login_failures_window_idx ON identity.login_failures (window_start);
