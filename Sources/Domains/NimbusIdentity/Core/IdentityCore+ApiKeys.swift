import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    /// Creates a key bound to a user and the actor's tenant; the secret is returned once.
    func createApiKey(_ actor: Actor, name: String, expiresAt: Date?, userID: String) async throws -> (key: ApiKeyRecord, secret: String) {
        let name = try Validate.name(name.isEmpty ? "default" : name, "name")
        let owner = userID.isEmpty ? actor.userID : try Validate.uuid(userID, "user_id")
        if owner == actor.userID { try actor.require(.apiKeyManage) } else { try actor.require(.iamManage) }
        if let expiresAt, expiresAt <= now() { throw IdentityError.invalid("expire_time is in the past") }
        let tenantID = actor.tenantID
        return try await transaction { tx in
            guard let target = try await tx.query("""
                SELECT u.is_platform_admin, u.is_active FROM identity.users u JOIN identity.tenant_members m ON m.user_id = u.id
                WHERE u.id = $1::uuid AND m.tenant_id = $2::uuid
                """, owner, tenantID).first
            else { throw IdentityError.notFound("user") }
            // A key carries its user's powers: minting one for a platform admin is for platform admins.
            if try owner != actor.userID && target.decode(Bool.self, column: "is_platform_admin") && !actor.isPlatformAdmin {
                throw IdentityError(.permissionDenied, "only a platform admin can create keys for a platform admin")
            }
            if !(try target.decode(Bool.self, column: "is_active")) { throw IdentityError.precondition("the user is deactivated") }
            return try await self.insertApiKey(actor, userID: owner, tenantID: tenantID, name: name, expiresAt: expiresAt, in: tx)
        }
    }

    func insertApiKey(_ actor: Actor, userID: String, tenantID: String, name: String, expiresAt: Date?,
                      in tx: PostgresConnection) async throws -> (key: ApiKeyRecord, secret: String) {
        let token = try ApiKeyToken.generate()
        guard let row = try await tx.query("""
            INSERT INTO identity.api_keys AS k (user_id, tenant_id, name, prefix, secret_hash, expires_at)
            VALUES ($1::uuid, $2::uuid, $3, $4, decode($5, 'hex'), CASE WHEN $6::text IS NULL THEN NULL ELSE \(SQLText.timestamp("$6")) END)
            RETURNING \(ApiKeyRecord.columns)
            """, binds: [userID, tenantID, name, token.prefix, SQLText.hex(token.secretHash), SQLText.micros(expiresAt)]).first
        else { throw IdentityError(.internal, "insert returned nothing") }
        let key = try ApiKeyRecord(row: row)
        var creator = actor
        if creator.userID.isEmpty { creator.principal.userID = userID }
        try await AuditWriter.append(audit(creator, tenant: tenantID, action: "apikey.create", resourceType: "api_key",
                                           resourceID: key.id, metadata: ["prefix": key.prefix, "user_id": userID, "name": name]), in: tx)
        return (key, token.text)
    }

    func listApiKeys(_ actor: Actor, userID: String, pageSize: Int32, pageToken: String) async throws -> (keys: [ApiKeyRecord], next: String) {
        let owner = userID.isEmpty ? actor.userID : try Validate.uuid(userID, "user_id")
        if owner == actor.userID { try actor.require(.apiKeyManage) } else { try actor.require(.iamManage) }
        if owner != actor.userID,
           try await db.query("SELECT 1 AS x FROM identity.tenant_members WHERE tenant_id = $1::uuid AND user_id = $2::uuid",
                              binds: [actor.tenantID, owner]).isEmpty {
            throw IdentityError.notFound("user")
        }
        let limit = Validate.pageSize(pageSize)
        let after = try PageToken.decode(pageToken, parts: 2)
        let rows = try await db.query("""
            SELECT \(ApiKeyRecord.columns) FROM identity.api_keys k
            WHERE k.tenant_id = $1::uuid AND k.user_id = $2::uuid
              AND ($3::text IS NULL OR (k.created_at, k.id) < (\(SQLText.timestamp("$3")), $4::uuid))
            ORDER BY k.created_at DESC, k.id DESC LIMIT $5::int
            """, binds: [actor.tenantID, owner, after?[0], after?[1], String(limit + 1)])
        let keys = try Array(rows.prefix(limit).map(ApiKeyRecord.init(row:)))
        let next = rows.count > limit ? keys.last.map { PageToken.encode([String(micros($0.createdAt)), $0.id]) } ?? "" : ""
        return (keys, next)
    }

    func getApiKey(_ actor: Actor, id: String) async throws -> ApiKeyRecord {
        let id = try Validate.uuid(id, "id")
        return try await transaction { tx in try await self.visibleKey(actor, id: id, lock: false, in: tx) }
    }

    func revokeApiKey(_ actor: Actor, id: String) async throws -> ApiKeyRecord {
        let id = try Validate.uuid(id, "id")
        let key = try await transaction { tx in
            let key = try await self.visibleKey(actor, id: id, lock: true, in: tx)
            if key.revokedAt != nil { return key }
            guard let row = try await tx.query(
                "UPDATE identity.api_keys k SET revoked_at = now(), version = version + 1 WHERE k.id = $1::uuid RETURNING \(ApiKeyRecord.columns)", id).first
            else { throw IdentityError.notFound("API key") }
            try await AuditWriter.append(self.audit(actor, tenant: key.tenantID, action: "apikey.revoke", resourceType: "api_key",
                                                    resourceID: id, metadata: ["prefix": key.prefix]), in: tx)
            return try ApiKeyRecord(row: row)
        }
        cache.invalidateAll()
        return key
    }

    /// New secret under the same prefix; the previous secret works until `previousValidUntil`.
    func rotateApiKey(_ actor: Actor, id: String, previousValidUntil: Date?) async throws -> (key: ApiKeyRecord, secret: String) {
        let id = try Validate.uuid(id, "id")
        let result = try await transaction { tx in
            let key = try await self.visibleKey(actor, id: id, lock: true, in: tx)
            if key.revokedAt != nil { throw IdentityError.precondition("the key is revoked") }
            if let expiresAt = key.expiresAt, expiresAt <= self.now() { throw IdentityError.precondition("the key has expired") }
            let token = try ApiKeyToken(prefix: key.prefix, secret: []).rotated()
            let sunset = previousValidUntil.flatMap { $0 > self.now() ? $0 : nil }
            guard let row = try await tx.query("""
                UPDATE identity.api_keys k SET
                    previous_secret_hash = CASE WHEN $3::text IS NULL THEN NULL ELSE k.secret_hash END,
                    previous_valid_until = CASE WHEN $3::text IS NULL THEN NULL ELSE \(SQLText.timestamp("$3")) END,
                    secret_hash = decode($2, 'hex'), version = version + 1
                WHERE k.id = $1::uuid RETURNING \(ApiKeyRecord.columns)
                """, binds: [id, SQLText.hex(token.secretHash), SQLText.micros(sunset)]).first
            else { throw IdentityError.notFound("API key") }
            try await AuditWriter.append(self.audit(actor, tenant: key.tenantID, action: "apikey.rotate", resourceType: "api_key",
                                                    resourceID: id, metadata: ["prefix": key.prefix,
                                                                               "previous_valid_until": sunset.map { String(self.micros($0)) } ?? ""]), in: tx)
            return try (ApiKeyRecord(row: row), token.text)
        }
        cache.invalidateAll()
        return result
    }

    /// A key of the actor's tenant that the actor may manage (own keys with apikey:manage,
    /// anyone's with iam:manage); NOT_FOUND otherwise.
    private func visibleKey(_ actor: Actor, id: String, lock: Bool, in tx: PostgresConnection) async throws -> ApiKeyRecord {
        guard let row = try await tx.query(
            "SELECT \(ApiKeyRecord.columns) FROM identity.api_keys k WHERE k.id = $1::uuid AND (k.tenant_id = $2::uuid OR $3::boolean)\(lock ? " FOR UPDATE" : "")",
            binds: [id, actor.tenantID.isEmpty ? platformAuditTenant : actor.tenantID, SQLText.bool(actor.isPlatformAdmin)]).first
        else { throw IdentityError.notFound("API key") }
        let key = try ApiKeyRecord(row: row)
        if key.userID == actor.userID { try actor.require(.apiKeyManage) } else { try actor.require(.iamManage) }
        return key
    }
}
