import Foundation
import NimbusPostgres
import Logging
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    /// API key → Principal. Every failure is the same UNAUTHENTICATED answer. Served from the
    /// cache while the auth epoch is unchanged (a single-row read, batched across concurrent calls); a revocation,
    /// rotation or membership change bumps the epoch in its own transaction, so the next call
    /// after it commits reloads from the database.
    func authenticate(apiKey: String) async throws -> Principal {
        try await authenticateBounded(apiKey: apiKey).principal
    }

    /// As `authenticate`, with the instant until which this secret keeps opening the key (its
    /// expiry, or a rotated secret's sunset): what is built from the answer — the signed
    /// principal a gateway caches and forwards — must not outlive it.
    func authenticateBounded(apiKey: String) async throws -> (principal: Principal, validUntil: Date) {
        guard let token = ApiKeyToken(parsing: apiKey) else { throw IdentityError(.unauthenticated, "invalid API key") }
        let hash = token.secretHash
        let epoch = try await currentEpoch()
        let now = self.now()
        if let cached = cache.lookup(prefix: token.prefix, epoch: epoch) {
            guard let until = cached.acceptedUntil(hash, now: now) else { throw IdentityError(.unauthenticated, "invalid API key") }
            lastUsed.record(keyID: cached.keyID, at: now)
            return (cached.principal, until)
        }
        guard let (entry, loadedEpoch) = try await loadKey(prefix: token.prefix) else {
            throw IdentityError(.unauthenticated, "invalid API key")
        }
        cache.store(prefix: token.prefix, entry, epoch: loadedEpoch)
        guard let until = entry.acceptedUntil(hash, now: now) else { throw IdentityError(.unauthenticated, "invalid API key") }
        lastUsed.record(keyID: entry.keyID, at: now)
        return (entry.principal, until)
    }

    /// The epoch as of a read that started after this call began (batched across callers).
    func currentEpoch() async throws -> Int64 {
        try await mappingSQLErrors { try await epochs.current() }
    }

    /// The key with its principal, read in one statement (one snapshot) together with the
    /// epoch it is valid under. Nil for an unknown, revoked or orphaned key or inactive user.
    private func loadKey(prefix: String) async throws -> (CachedKey, Int64)? {
        guard let row = try await db.query("""
            SELECT k.id::text AS id, k.user_id::text AS user_id, k.tenant_id::text AS tenant_id,
                   encode(k.secret_hash, 'hex') AS secret_hash, encode(k.previous_secret_hash, 'hex') AS previous_hash,
                   \(SQLText.micros(column: "k.previous_valid_until", as: "previous_us")),
                   \(SQLText.micros(column: "k.expires_at", as: "expires_us")),
                   r.name AS role, u.is_platform_admin,
                   (SELECT coalesce(string_agg(p.permission, ',' ORDER BY p.permission), '') FROM identity.role_permissions p WHERE p.role_id = m.role_id) AS permissions,
                   (SELECT epoch FROM identity.auth_epoch WHERE singleton) AS epoch
            FROM identity.api_keys k
            JOIN identity.users u ON u.id = k.user_id
            JOIN identity.tenant_members m ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id
            JOIN identity.roles r ON r.id = m.role_id
            WHERE k.prefix = $1 AND k.revoked_at IS NULL AND u.is_active
            """, binds: [prefix]).first,
            let secretHash = try row.hexBytes("secret_hash")
        else { return nil }
        var permissions = Set((try row.decode(String.self, column: "permissions")).split(separator: ",").map { Permission(String($0)) })
        if (try row.decode(Bool.self, column: "is_platform_admin")) { permissions.insert(.platformAdmin) }
        let principal = Principal(userID: try row.decode(String.self, column: "user_id"), tenantID: try row.decode(String.self, column: "tenant_id"), role: try row.decode(String.self, column: "role"),
                                  permissions: permissions, keyID: try row.decode(String.self, column: "id"))
        let entry = CachedKey(keyID: try row.decode(String.self, column: "id"), principal: principal, secretHash: secretHash,
                              previousSecretHash: try row.hexBytes("previous_hash"), previousValidUntil: try row.micros("previous_us"),
                              expiresAt: try row.micros("expires_us"))
        return (entry, (try row.decode(Int64.self, column: "epoch")))
    }

    /// Writes the collected last-used times in one statement (called periodically).
    func flushLastUsed() async {
        let pending = lastUsed.drain()
        if pending.isEmpty { return }
        let ids = pending.keys.sorted()
        let times = ids.map { String(micros(pending[$0]!)) }
        do {
            _ = try await db.query("""
                UPDATE identity.api_keys k SET last_used_at = \(SQLText.timestamp("v.us"))
                FROM unnest($1::uuid[], $2::bigint[]) AS v(id, us)
                WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < \(SQLText.timestamp("v.us")))
                """, binds: [SQLText.array(ids), SQLText.array(times)])
        } catch {
            logger.warning("could not record API key last use", metadata: ["error": "\(error)", "keys": "\(ids.count)"])
        }
    }

    struct LoginResult: Sendable {
        var secret: String
        var key: ApiKeyRecord
        var user: UserRecord
        var tenant: TenantRecord
    }

    /// Email + password → a session key in the requested (or default) tenant. Unknown email,
    /// wrong password and inactive user look the same. Every attempt is counted in the database
    /// before the password is checked (shared by all replicas; a success clears the count), and
    /// every failure is audited.
    func login(email: String, password: String, tenantID: String, requestID: String) async throws -> LoginResult {
        let account = email.trimmingCharacters(in: .whitespaces).lowercased()
        let accountHash = LoginThrottle.accountHash(account)
        let (count, refusal) = try await countLoginAttempt(account: account, accountHash: accountHash, tenantID: tenantID, requestID: requestID)
        if let wait = refusal {
            throw IdentityError(.resourceExhausted, "too many failed logins; retry in \(Int(wait.rounded(.up))) s")
        }
        let row = try await query(
            "SELECT \(UserRecord.columns), u.password_hash FROM identity.users u WHERE lower(u.email) = $1", account).first
        // Hash anyway for an unknown email, so timing does not reveal which emails exist.
        let stored = (try row?.decode(String.self, column: "password_hash")) ?? decoyHash
        let matches = (try? hasher.verify(password, against: stored)) ?? false
        guard let row, matches, (try row.decode(Bool.self, column: "is_active")) else {
            try await recordFailedLogin(account: account, tenantID: tenantID, attempts: count.attempts, requestID: requestID)
            throw IdentityError.badCredentials
        }
        try await mappingSQLErrors { try await db.withConnection { try await throttle.clear(accountHash, in: $0) } }
        let user = try UserRecord(row: row)
        let wanted = try Validate.optionalUUID(tenantID, "tenant_id")
        let rehash = hasher.needsRehash(stored) ? try hasher.hash(password) : nil
        let lifetime = sessionLifetime
        return try await transaction { tx in
            guard let membership = try await tx.query("""
                SELECT m.tenant_id::text AS tenant_id FROM identity.tenant_members m WHERE m.user_id = $1::uuid
                ORDER BY (m.tenant_id = coalesce($2::uuid, $3::uuid)) DESC, m.created_at LIMIT 1
                """, user.id, wanted, user.defaultTenantID).first,
                try wanted == nil || membership.decode(String.self, column: "tenant_id") == wanted
            else { throw IdentityError.notFound("tenant") }
            let tenantID = try membership.decode(String.self, column: "tenant_id")
            if let rehash {
                _ = try await tx.query("UPDATE identity.users SET password_hash = $2 WHERE id = $1::uuid", user.id, rehash)
            }
            guard let tenantRow = try await tx.query("SELECT \(TenantRecord.columns) FROM identity.tenants t WHERE t.id = $1::uuid", tenantID).first
            else { throw IdentityError.notFound("tenant") }
            let actor = Actor(principal: Principal(userID: user.id, tenantID: tenantID, role: "", permissions: []), requestID: requestID)
            let (key, secret) = try await self.insertApiKey(actor, userID: user.id, tenantID: tenantID, name: "session",
                                                            expiresAt: self.now().addingTimeInterval(lifetime), in: tx)
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "auth.login", resourceType: "user", resourceID: user.id), in: tx)
            return LoginResult(secret: secret, key: key, user: user, tenant: try TenantRecord(row: tenantRow))
        }
    }

}
