-- Reverses 0001_init.up.sql completely.
DROP TRIGGER IF EXISTS tenants_auth_epoch ON identity.tenants;
DROP TRIGGER IF EXISTS users_auth_epoch ON identity.users;
DROP TRIGGER IF EXISTS role_permissions_auth_epoch ON identity.role_permissions;
DROP TRIGGER IF EXISTS tenant_members_auth_epoch ON identity.tenant_members;
DROP TRIGGER IF EXISTS api_keys_auth_epoch ON identity.api_keys;
DROP FUNCTION IF EXISTS identity.bump_auth_epoch();
DROP TABLE IF EXISTS identity.auth_epoch;
DROP TABLE IF EXISTS identity.audit_chain_heads;
DROP TABLE IF EXISTS identity.audit_events;
DROP TABLE IF EXISTS identity.quota_reservations;
DROP TABLE IF EXISTS identity.tenant_quotas;
DROP TABLE IF EXISTS identity.api_keys;
DROP TABLE IF EXISTS identity.tenant_members;
DROP TABLE IF EXISTS identity.role_permissions;
DROP TABLE IF EXISTS identity.roles;
DROP TABLE IF EXISTS identity.users;
DROP TABLE IF EXISTS identity.tenants;
