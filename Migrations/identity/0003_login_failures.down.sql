-- Reverses 0003_login_failures.up.sql (the counters are transient; nothing else depends on them).
DROP TABLE IF EXISTS identity.login_failures;
