import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    struct BootstrapResult: Sendable {
        var user: UserRecord
        var tenant: TenantRecord
        var apiKey: String
        var password: String?
    }

    /// Creates the first platform admin, their tenant and an API key, only while no user
    /// exists (an advisory lock keeps replicas starting together from doing it twice).
    /// Returns nil when the installation is already bootstrapped.
    func bootstrap(email: String, password: String?, tenantSlug: String, tenantName: String) async throws -> BootstrapResult? {
        let email = try Validate.email(email)
        let slug = try Validate.slug(tenantSlug)
        let name = try Validate.name(tenantName.isEmpty ? tenantSlug : tenantName)
        let generated = password == nil || password!.isEmpty ? Base64URL.encode(try SecureRandom.bytes(18)) : nil
        let plain = try Validate.password(generated ?? password!)
        let hash = try hasher.hash(plain)
        return try await transaction { tx in
            _ = try await tx.query("SELECT pg_advisory_xact_lock(hashtext('nimbus-identity-bootstrap'))::text AS x", binds: [])
            if try await tx.query("SELECT 1 AS x FROM identity.users LIMIT 1").first != nil { return nil }
            guard let row = try await tx.query("""
                INSERT INTO identity.users AS u (email, name, password_hash, is_platform_admin) VALUES ($1, $2, $3, true)
                RETURNING \(UserRecord.columns)
                """, email, "Administrator", hash).first
            else { throw IdentityError(.internal, "insert returned nothing") }
            var user = try UserRecord(row: row)
            let actor = Actor(principal: Principal(userID: user.id, tenantID: "", role: "admin", permissions: [.platformAdmin]),
                              requestID: "bootstrap")
            let tenant = try await self.insertTenant(actor, name: name, slug: slug, admin: user.id, in: tx)
            user.defaultTenantID = tenant.id
            var inTenant = actor
            inTenant.principal.tenantID = tenant.id
            try await AuditWriter.append(self.audit(inTenant, tenant: tenant.id, action: "user.create", resourceType: "user",
                                                    resourceID: user.id, metadata: ["email": email, "role": "admin", "bootstrap": "true"]), in: tx)
            let (_, secret) = try await self.insertApiKey(inTenant, userID: user.id, tenantID: tenant.id, name: "bootstrap",
                                                          expiresAt: nil, in: tx)
            return BootstrapResult(user: user, tenant: tenant, apiKey: secret, password: generated)
        }
    }
}
