-- Reverses 0001_init.up.sql completely.
DROP TRIGGER IF EXISTS tenants_auth_epoch ON tenants;
DROP TRIGGER IF EXISTS users_auth_epoch ON users;
DROP TRIGGER IF EXISTS role_permissions_auth_epoch ON role_permissions;
DROP TRIGGER IF EXISTS tenant_members_auth_epoch ON tenant_members;
DROP TRIGGER IF EXISTS api_keys_auth_epoch ON api_keys;
DROP FUNCTION IF EXISTS bump_auth_epoch();
DROP TABLE IF EXISTS auth_epoch;
DROP TABLE IF EXISTS audit_chain_heads;
DROP TABLE IF EXISTS audit_events;
DROP TABLE IF EXISTS quota_reservations;
DROP TABLE IF EXISTS tenant_quotas;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS tenant_members;
DROP TABLE IF EXISTS role_permissions;
DROP TABLE IF EXISTS roles;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS tenants;
