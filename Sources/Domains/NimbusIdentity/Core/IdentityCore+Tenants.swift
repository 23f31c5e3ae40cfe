import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    /// Creates a tenant with default quotas; the creator becomes its admin.
    func createTenant(_ actor: Actor, name: String, slug: String) async throws -> TenantRecord {
        guard !actor.principal.isService, !actor.userID.isEmpty else {
            throw IdentityError(.permissionDenied, "tenants are created by users")
        }
        let name = try Validate.name(name)
        let slug = try Validate.slug(slug)
        return try await transaction { tx in
            try await self.insertTenant(actor, name: name, slug: slug, admin: actor.userID, in: tx)
        }
    }

    func insertTenant(_ actor: Actor, name: String, slug: String, admin userID: String, in tx: PostgresConnection) async throws -> TenantRecord {
        guard let row = try await tx.query("INSERT INTO identity.tenants AS t (name, slug) VALUES ($1, $2) RETURNING \(TenantRecord.columns)", name, slug).first
        else { throw IdentityError(.internal, "insert returned nothing") }
        let tenant = try TenantRecord(row: row)
        let adminRole = try await roleID(named: BuiltInRole.admin.rawValue, tenant: tenant.id, in: tx)
        _ = try await tx.query("INSERT INTO identity.tenant_members (tenant_id, user_id, role_id) VALUES ($1::uuid, $2::uuid, $3::uuid)",
                               tenant.id, userID, adminRole)
        let l = QuotaAmounts.defaultLimits
        _ = try await tx.query("""
            INSERT INTO identity.tenant_quotas (tenant_id, max_instances, max_vcpus, max_memory_mb, max_storage_gb, max_buckets, max_databases)
            VALUES ($1::uuid, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint)
            """, tenant.id, String(l.instances), String(l.vcpus), String(l.memoryMB), String(l.storageGB), String(l.buckets), String(l.databases))
        _ = try await tx.query("UPDATE identity.users SET default_tenant_id = $2::uuid WHERE id = $1::uuid AND default_tenant_id IS NULL", userID, tenant.id)
        var creator = actor
        if creator.userID.isEmpty { creator.principal.userID = userID }
        try await AuditWriter.append(audit(creator, tenant: tenant.id, action: "tenant.create", resourceType: "tenant",
                                           resourceID: tenant.id, metadata: ["slug": slug]), in: tx)
        return tenant
    }

    /// A tenant the actor belongs to (platform admins: any).
    func getTenant(_ actor: Actor, id: String) async throws -> TenantRecord {
        let id = try Validate.uuid(id, "id")
        guard let row = try await db.query("""
            SELECT \(TenantRecord.columns) FROM identity.tenants t WHERE t.id = $1::uuid
              AND ($3::boolean OR EXISTS (SELECT 1 FROM identity.tenant_members m WHERE m.tenant_id = t.id AND m.user_id = $2::uuid))
            """, binds: [id, actor.userID.isEmpty ? platformAuditTenant : actor.userID, SQLText.bool(actor.isPlatformAdmin)]).first
        else { throw IdentityError.notFound("tenant") }
        return try TenantRecord(row: row)
    }

    func listTenants(_ actor: Actor, pageSize: Int32, pageToken: String) async throws -> (tenants: [TenantRecord], next: String) {
        let limit = Validate.pageSize(pageSize)
        let after = try PageToken.decode(pageToken, parts: 1)
        let rows = try await db.query("""
            SELECT \(TenantRecord.columns) FROM identity.tenants t JOIN identity.tenant_members m ON m.tenant_id = t.id AND m.user_id = $1::uuid
            WHERE ($2::text IS NULL OR t.slug > $2::text) ORDER BY t.slug LIMIT $3::int
            """, binds: [actor.userID.isEmpty ? platformAuditTenant : actor.userID, after?[0], String(limit + 1)])
        let tenants = try Array(rows.prefix(limit).map(TenantRecord.init(row:)))
        return (tenants, rows.count > limit ? tenants.last.map { PageToken.encode([$0.slug]) } ?? "" : "")
    }

    /// Refused while the tenant still uses quota (it owns resources elsewhere), unless a
    /// platform admin forces it.
    func deleteTenant(_ actor: Actor, id: String, force: Bool) async throws {
        let id = try Validate.uuid(id, "id")
        try actor.requireTenant(id, "tenant")
        try actor.require(.tenantManage)
        if force && !actor.isPlatformAdmin { throw IdentityError(.permissionDenied, "only a platform admin can force a tenant deletion") }
        try await transaction { tx in
            guard try await tx.query("SELECT 1 AS x FROM identity.tenants WHERE id = $1::uuid FOR UPDATE", id).first != nil else {
                throw IdentityError.notFound("tenant")
            }
            if let q = try await tx.query("SELECT * FROM identity.tenant_quotas WHERE tenant_id = $1::uuid FOR UPDATE", id).first {
                let inUse = try ["instances", "vcpus", "memory_mb", "storage_gb", "buckets", "databases"]
                    .filter { (try q.decode(Int64.self, column: "used_\($0)")) > 0 }.map { "\($0)=\((try q.decode(Int64.self, column: "used_\($0)")))" }
                if !inUse.isEmpty && !force {
                    throw IdentityError.precondition("the tenant still owns resources (\(inUse.joined(separator: ", "))); delete them first")
                }
            }
            try await AuditWriter.append(self.audit(actor, tenant: id, action: "tenant.delete", resourceType: "tenant",
                                                    resourceID: id, metadata: ["force": force ? "true" : "false"]), in: tx)
            _ = try await tx.query("DELETE FROM identity.tenants WHERE id = $1::uuid", id)
        }
        cache.invalidateAll()
    }

    func addMember(_ actor: Actor, tenantID: String, userID: String, role: String) async throws -> MemberRecord {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        let userID = try Validate.uuid(userID, "user_id")
        try actor.requireTenant(tenantID, "tenant")
        try actor.require(.iamManage)
        return try await transaction { tx in
            guard try await tx.query("SELECT 1 AS x FROM identity.users WHERE id = $1::uuid", userID).first != nil else { throw IdentityError.notFound("user") }
            let roleID = try await self.roleID(named: role, tenant: tenantID, in: tx)
            _ = try await tx.query("INSERT INTO identity.tenant_members (tenant_id, user_id, role_id) VALUES ($1::uuid, $2::uuid, $3::uuid)",
                                   tenantID, userID, roleID)
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "member.add", resourceType: "member",
                                                    resourceID: userID, metadata: ["role": role.isEmpty ? "viewer" : role]), in: tx)
            return try await self.member(tenantID: tenantID, userID: userID, in: tx)
        }
    }

    func updateMember(_ actor: Actor, tenantID: String, userID: String, role: String) async throws -> MemberRecord {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        let userID = try Validate.uuid(userID, "user_id")
        try actor.requireTenant(tenantID, "tenant")
        try actor.require(.iamManage)
        let member = try await transaction { tx in
            let roleID = try await self.roleID(named: role, tenant: tenantID, in: tx)
            _ = try await self.member(tenantID: tenantID, userID: userID, in: tx)
            try await self.keepAnAdmin(tenantID: tenantID, changing: userID, newRoleID: roleID, in: tx)
            _ = try await tx.query("UPDATE identity.tenant_members SET role_id = $3::uuid WHERE tenant_id = $1::uuid AND user_id = $2::uuid",
                                   tenantID, userID, roleID)
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "member.update", resourceType: "member",
                                                    resourceID: userID, metadata: ["role": role]), in: tx)
            return try await self.member(tenantID: tenantID, userID: userID, in: tx)
        }
        cache.invalidateAll()
        return member
    }

    func removeMember(_ actor: Actor, tenantID: String, userID: String) async throws {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        let userID = try Validate.uuid(userID, "user_id")
        try actor.requireTenant(tenantID, "tenant")
        if userID != actor.userID { try actor.require(.iamManage) }
        try await transaction { tx in
            _ = try await self.member(tenantID: tenantID, userID: userID, in: tx)
            try await self.keepAnAdmin(tenantID: tenantID, changing: userID, newRoleID: nil, in: tx)
            _ = try await tx.query("DELETE FROM identity.tenant_members WHERE tenant_id = $1::uuid AND user_id = $2::uuid", tenantID, userID)
            _ = try await tx.query("UPDATE identity.users SET default_tenant_id = NULL WHERE id = $1::uuid AND default_tenant_id = $2::uuid", userID, tenantID)
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "member.remove", resourceType: "member", resourceID: userID), in: tx)
        }
        cache.invalidateAll()
    }

    func listMembers(_ actor: Actor, tenantID: String, pageSize: Int32, pageToken: String) async throws -> (members: [MemberRecord], next: String) {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        try actor.requireTenant(tenantID, "tenant")
        try actor.require(.iamRead)
        let limit = Validate.pageSize(pageSize)
        let after = try PageToken.decode(pageToken, parts: 2)
        let rows = try await db.query("""
            SELECT \(MemberRecord.columns) FROM identity.tenant_members m JOIN identity.users u ON u.id = m.user_id JOIN identity.roles r ON r.id = m.role_id
            WHERE m.tenant_id = $1::uuid AND ($2::text IS NULL OR (lower(u.email), u.id) > ($2::text, $3::uuid))
            ORDER BY lower(u.email), u.id LIMIT $4::int
            """, binds: [tenantID, after?[0], after?[1], String(limit + 1)])
        let members = try Array(rows.prefix(limit).map(MemberRecord.init(row:)))
        return (members, rows.count > limit ? members.last.map { PageToken.encode([$0.email.lowercased(), $0.userID]) } ?? "" : "")
    }

    func setDefaultTenant(_ actor: Actor, tenantID: String) async throws -> UserRecord {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        return try await transaction { tx in
            guard try await tx.query("SELECT 1 AS x FROM identity.tenant_members WHERE tenant_id = $1::uuid AND user_id = $2::uuid", tenantID, actor.userID).first != nil
            else { throw IdentityError.notFound("tenant") }
            guard let row = try await tx.query("""
                UPDATE identity.users u SET default_tenant_id = $2::uuid, version = version + 1, updated_at = now()
                WHERE u.id = $1::uuid RETURNING \(UserRecord.columns)
                """, actor.userID, tenantID).first
            else { throw IdentityError.notFound("user") }
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "user.set_default_tenant", resourceType: "user", resourceID: actor.userID), in: tx)
            return try UserRecord(row: row)
        }
    }

    func member(tenantID: String, userID: String, in tx: PostgresConnection) async throws -> MemberRecord {
        guard let row = try await tx.query("""
            SELECT \(MemberRecord.columns) FROM identity.tenant_members m JOIN identity.users u ON u.id = m.user_id JOIN identity.roles r ON r.id = m.role_id
            WHERE m.tenant_id = $1::uuid AND m.user_id = $2::uuid
            """, tenantID, userID).first
        else { throw IdentityError.notFound("member") }
        return try MemberRecord(row: row)
    }

    /// A tenant keeps at least one admin: refuses a change that would remove the last one.
    private func keepAnAdmin(tenantID: String, changing userID: String, newRoleID: String?, in tx: PostgresConnection) async throws {
        let adminRole = try await roleID(named: BuiltInRole.admin.rawValue, tenant: tenantID, in: tx)
        if newRoleID == adminRole { return }
        let rows = try await tx.query(
            "SELECT user_id::text AS user_id FROM identity.tenant_members WHERE tenant_id = $1::uuid AND role_id = $2::uuid FOR UPDATE",
            tenantID, adminRole)
        if rows.count == 1, try rows[0].decode(String.self, column: "user_id") == userID {
            throw IdentityError.precondition("a tenant needs at least one admin")
        }
    }
}
