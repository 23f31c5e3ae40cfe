import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    /// SQL condition: user `u` is visible to the actor ($vis1 = actor user, $vis2 = actor tenant,
    /// $vis3 = platform admin).
    private static func visible(_ a: Int, _ b: Int, _ c: Int) -> String {
        "(u.id = $\(a)::uuid OR $\(c)::boolean OR EXISTS (SELECT 1 FROM identity.tenant_members vm WHERE vm.user_id = u.id AND vm.tenant_id = $\(b)::uuid))"
    }
    private func visibility(_ actor: Actor) -> [String?] {
        [actor.userID.isEmpty ? platformAuditTenant : actor.userID,
         actor.tenantID.isEmpty ? platformAuditTenant : actor.tenantID, SQLText.bool(actor.isPlatformAdmin)]
    }

    struct NewUser: Sendable {
        var email: String
        var name: String
        var password: String
        var role: String
        var isPlatformAdmin: Bool
    }

    /// Creates a user as a member of the actor's tenant with `role`.
    func createUser(_ actor: Actor, _ input: NewUser) async throws -> UserRecord {
        try actor.require(.iamManage)
        if input.isPlatformAdmin && !actor.isPlatformAdmin {
            throw IdentityError(.permissionDenied, "only a platform admin can create a platform admin")
        }
        let email = try Validate.email(input.email)
        let name = try Validate.name(input.name)
        let hash = try hasher.hash(try Validate.password(input.password))
        let tenantID = actor.tenantID
        return try await transaction { tx in
            let roleID = try await self.roleID(named: input.role, tenant: tenantID, in: tx)
            guard let row = try await tx.query("""
                INSERT INTO identity.users AS u (email, name, password_hash, is_platform_admin, default_tenant_id)
                VALUES ($1, $2, $3, $4::boolean, $5::uuid) RETURNING \(UserRecord.columns)
                """, email, name, hash, SQLText.bool(input.isPlatformAdmin), tenantID).first
            else { throw IdentityError(.internal, "insert returned nothing") }
            let user = try UserRecord(row: row)
            _ = try await tx.query("INSERT INTO identity.tenant_members (tenant_id, user_id, role_id) VALUES ($1::uuid, $2::uuid, $3::uuid)",
                                   tenantID, user.id, roleID)
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "user.create", resourceType: "user",
                                                    resourceID: user.id, metadata: ["email": email, "role": input.role.isEmpty ? "viewer" : input.role]), in: tx)
            return user
        }
    }

    func getUser(_ actor: Actor, id: String) async throws -> UserRecord {
        let id = try Validate.uuid(id, "id")
        if id != actor.userID { try actor.require(.iamRead) }
        guard let row = try await db.query("SELECT \(UserRecord.columns) FROM identity.users u WHERE u.id = $1::uuid AND \(Self.visible(2, 3, 4))",
                                           binds: [id] + visibility(actor)).first
        else { throw IdentityError.notFound("user") }
        return try UserRecord(row: row)
    }

    /// Members of the actor's tenant, by email.
    func listUsers(_ actor: Actor, pageSize: Int32, pageToken: String) async throws -> (users: [UserRecord], next: String) {
        try actor.require(.iamRead)
        let limit = Validate.pageSize(pageSize)
        let after = try PageToken.decode(pageToken, parts: 2)
        let rows = try await db.query("""
            SELECT \(UserRecord.columns) FROM identity.users u JOIN identity.tenant_members m ON m.user_id = u.id AND m.tenant_id = $1::uuid
            WHERE ($2::text IS NULL OR (lower(u.email), u.id) > ($2::text, $3::uuid))
            ORDER BY lower(u.email), u.id LIMIT $4::int
            """, binds: [actor.tenantID, after?[0], after?[1], String(limit + 1)])
        let users = try rows.prefix(limit).map(UserRecord.init(row:))
        let next = rows.count > limit ? users.last.map { PageToken.encode([$0.email.lowercased(), $0.id]) } ?? "" : ""
        return (Array(users), next)
    }

    struct UserChanges: Sendable {
        var name: String = ""
        var email: String = ""
        var password: String = ""
        var defaultTenantID: String = ""
    }

    /// Optimistic update: applies only when `version` is current, else ABORTED.
    func updateUser(_ actor: Actor, id: String, version: Int64, _ changes: UserChanges) async throws -> UserRecord {
        let id = try Validate.uuid(id, "id")
        let isSelf = id == actor.userID
        if !isSelf { try actor.require(.iamManage) }
        let name = changes.name.isEmpty ? nil : try Validate.name(changes.name)
        let email = changes.email.isEmpty ? nil : try Validate.email(changes.email)
        let hash = changes.password.isEmpty ? nil : try hasher.hash(try Validate.password(changes.password))
        let defaultTenant = try Validate.optionalUUID(changes.defaultTenantID, "default_tenant_id")
        let params = visibility(actor)
        return try await transaction { tx in
            let target = try await self.lockVisibleUser(actor, id: id, in: tx)
            if target.isPlatformAdmin && !isSelf && !actor.isPlatformAdmin {
                throw IdentityError(.permissionDenied, "only a platform admin can change another platform admin")
            }
            if let defaultTenant,
               try await tx.query("SELECT 1 AS x FROM identity.tenant_members WHERE tenant_id = $1::uuid AND user_id = $2::uuid", defaultTenant, id).first == nil {
                throw IdentityError.notFound("tenant")
            }
            guard target.version == version else {
                throw IdentityError(.aborted, "the user was changed concurrently (version \(version) is not current); re-read and retry")
            }
            guard let row = try await tx.query("""
                UPDATE identity.users u SET name = coalesce($2, name), email = coalesce($3, email), password_hash = coalesce($4, password_hash),
                    default_tenant_id = coalesce($5::uuid, default_tenant_id), version = version + 1, updated_at = now()
                WHERE u.id = $1::uuid AND u.version = $6::bigint AND \(Self.visible(7, 8, 9))
                RETURNING \(UserRecord.columns)
                """, binds: [id, name, email, hash, defaultTenant, String(version)] + params).first
            else { throw IdentityError(.aborted, "the user was changed concurrently; re-read and retry") }
            var changed = [String]()
            if name != nil { changed.append("name") }
            if email != nil { changed.append("email") }
            if hash != nil { changed.append("password") }
            if defaultTenant != nil { changed.append("default_tenant_id") }
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "user.update", resourceType: "user",
                                                    resourceID: id, metadata: ["fields": changed.joined(separator: ",")]), in: tx)
            return try UserRecord(row: row)
        }
    }

    func deactivateUser(_ actor: Actor, id: String, version: Int64) async throws -> UserRecord {
        let id = try Validate.uuid(id, "id")
        try actor.require(.iamManage)
        if id == actor.userID { throw IdentityError.precondition("you cannot deactivate yourself") }
        return try await transaction { tx in
            let target = try await self.lockVisibleUser(actor, id: id, in: tx)
            if target.isPlatformAdmin && !actor.isPlatformAdmin {
                throw IdentityError(.permissionDenied, "only a platform admin can deactivate a platform admin")
            }
            if version != 0 && target.version != version {
                throw IdentityError(.aborted, "the user was changed concurrently; re-read and retry")
            }
            guard let row = try await tx.query("""
                UPDATE identity.users u SET is_active = false, version = version + 1, updated_at = now()
                WHERE u.id = $1::uuid RETURNING \(UserRecord.columns)
                """, id).first
            else { throw IdentityError.notFound("user") }
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "user.deactivate", resourceType: "user", resourceID: id), in: tx)
            self.cache.invalidateAll()
            return try UserRecord(row: row)
        }
    }

    /// Deletes a user who belongs to no other tenant (a platform admin may delete anyone).
    func deleteUser(_ actor: Actor, id: String) async throws {
        let id = try Validate.uuid(id, "id")
        try actor.require(.iamManage)
        if id == actor.userID { throw IdentityError.precondition("you cannot delete yourself") }
        try await transaction { tx in
            let target = try await self.lockVisibleUser(actor, id: id, in: tx)
            if target.isPlatformAdmin && !actor.isPlatformAdmin {
                throw IdentityError(.permissionDenied, "only a platform admin can delete a platform admin")
            }
            if !actor.isPlatformAdmin,
               try await tx.query("SELECT 1 AS x FROM identity.tenant_members WHERE user_id = $1::uuid AND tenant_id <> $2::uuid", id, actor.tenantID).first != nil {
                throw IdentityError.precondition("the user belongs to other tenants; remove the membership instead")
            }
            _ = try await tx.query("DELETE FROM identity.users WHERE id = $1::uuid", id)
            try await AuditWriter.append(self.audit(actor, tenant: actor.tenantID, action: "user.delete", resourceType: "user",
                                                    resourceID: id, metadata: ["email": target.email]), in: tx)
        }
        cache.invalidateAll()
    }

    /// The user row, locked, if the actor may see it; NOT_FOUND otherwise.
    func lockVisibleUser(_ actor: Actor, id: String, in tx: PostgresConnection) async throws -> UserRecord {
        guard let row = try await tx.query(
            "SELECT \(UserRecord.columns) FROM identity.users u WHERE u.id = $1::uuid AND \(Self.visible(2, 3, 4)) FOR UPDATE OF u",
            binds: [id] + visibility(actor)).first
        else { throw IdentityError.notFound("user") }
        return try UserRecord(row: row)
    }
}
