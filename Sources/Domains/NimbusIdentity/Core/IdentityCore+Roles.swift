import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    func listRoles(_ actor: Actor) async throws -> [RoleRecord] {
        let rows = try await db.query("""
            SELECT \(RoleRecord.columns) FROM identity.roles r WHERE r.tenant_id IS NULL OR r.tenant_id = $1::uuid
            ORDER BY r.tenant_id NULLS FIRST, r.name
            """, binds: [actor.tenantID.isEmpty ? platformAuditTenant : actor.tenantID])
        return try rows.map(RoleRecord.init(row:))
    }

    func getRole(_ actor: Actor, id: String) async throws -> RoleRecord {
        let id = try Validate.uuid(id, "id")
        guard let row = try await db.query(
            "SELECT \(RoleRecord.columns) FROM identity.roles r WHERE r.id = $1::uuid AND (r.tenant_id IS NULL OR r.tenant_id = $2::uuid)",
            binds: [id, actor.tenantID.isEmpty ? platformAuditTenant : actor.tenantID]).first
        else { throw IdentityError.notFound("role") }
        return try RoleRecord(row: row)
    }

    /// Permissions a custom role may hold: well-formed and known (no platform or service ones).
    func validatedPermissions(_ permissions: [String]) throws -> [String] {
        let unique = Array(Set(permissions)).sorted()
        let unknown = unique.filter { !BuiltInRole.allTenantPermissions.contains(Permission($0)) }
        guard unknown.isEmpty else { throw IdentityError.invalid("unknown permissions: \(unknown.joined(separator: ", "))") }
        return unique
    }

    func createRole(_ actor: Actor, name: String, description: String, permissions: [String]) async throws -> RoleRecord {
        try actor.require(.iamManage)
        let permissions = try validatedPermissions(permissions)
        guard description.count <= 1000 else { throw IdentityError.invalid("descriptions are at most 1000 characters") }
        return try await transaction { tx in
            guard let row = try await tx.query(
                "INSERT INTO identity.roles (tenant_id, name, description) VALUES ($1::uuid, $2, $3) RETURNING id::text AS id",
                actor.tenantID, name, description).first
            else { throw IdentityError(.internal, "insert returned nothing") }
            let id = try row.decode(String.self, column: "id")
            _ = try await tx.query("INSERT INTO identity.role_permissions (role_id, permission) SELECT $1::uuid, unnest($2::text[])",
                                   id, SQLText.array(permissions))
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "role.create", resourceType: "role",
                                                    resourceID: id, metadata: ["name": name, "permissions": permissions.joined(separator: ",")]), in: tx)
            return try await self.role(id: id, in: tx)
        }
    }

    func updateRole(_ actor: Actor, id: String, description: String, permissions: [String]) async throws -> RoleRecord {
        let id = try Validate.uuid(id, "id")
        try actor.require(.iamManage)
        let permissions = try validatedPermissions(permissions)
        let role = try await transaction { tx in
            let existing = try await self.lockTenantRole(actor, id: id, in: tx)
            _ = try await tx.query("UPDATE identity.roles SET description = $2 WHERE id = $1::uuid", id, description.isEmpty ? existing.description : description)
            _ = try await tx.query("DELETE FROM identity.role_permissions WHERE role_id = $1::uuid", id)
            _ = try await tx.query("INSERT INTO identity.role_permissions (role_id, permission) SELECT $1::uuid, unnest($2::text[])",
                                   id, SQLText.array(permissions))
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "role.update", resourceType: "role",
                                                    resourceID: id, metadata: ["permissions": permissions.joined(separator: ",")]), in: tx)
            return try await self.role(id: id, in: tx)
        }
        cache.invalidateAll()
        return role
    }

    func deleteRole(_ actor: Actor, id: String) async throws {
        let id = try Validate.uuid(id, "id")
        try actor.require(.iamManage)
        try await transaction { tx in
            let existing = try await self.lockTenantRole(actor, id: id, in: tx)
            _ = try await tx.query("DELETE FROM identity.roles WHERE id = $1::uuid", id)
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "role.delete", resourceType: "role",
                                                    resourceID: id, metadata: ["name": existing.name]), in: tx)
        }
        cache.invalidateAll()
    }

    private func role(id: String, in tx: PostgresConnection) async throws -> RoleRecord {
        guard let row = try await tx.query("SELECT \(RoleRecord.columns) FROM identity.roles r WHERE r.id = $1::uuid", id).first else {
            throw IdentityError.notFound("role")
        }
        return try RoleRecord(row: row)
    }

    /// A custom role of the actor's tenant, locked; built-in roles are read-only.
    private func lockTenantRole(_ actor: Actor, id: String, in tx: PostgresConnection) async throws -> RoleRecord {
        guard let row = try await tx.query(
            "SELECT \(RoleRecord.columns) FROM identity.roles r WHERE r.id = $1::uuid AND (r.tenant_id IS NULL OR r.tenant_id = $2::uuid) FOR UPDATE",
            id, actor.tenantID).first
        else { throw IdentityError.notFound("role") }
        let role = try RoleRecord(row: row)
        if role.builtin { throw IdentityError.precondition("built-in roles cannot be changed") }
        return role
    }
}
