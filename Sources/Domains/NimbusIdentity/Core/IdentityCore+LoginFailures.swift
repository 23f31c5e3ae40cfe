import Foundation
import NimbusPostgres
import Logging
import NimbusPlatform
import NimbusRPCCore

/// Why a login failed, as the audit log records it: no finer than the API answer, so unknown
/// email, wrong password and inactive user are all `badCredentials`.
enum LoginFailureReason: String, Sendable {
    case badCredentials = "bad_credentials"
    case throttled
}

extension IdentityCore {
    /// Counts a login attempt for `accountHash` (see `LoginThrottle`). When the account is over
    /// the limit, the refusal is audited in the same transaction and the wait is returned.
    func countLoginAttempt(account: String, accountHash: [UInt8], tenantID: String, requestID: String) async throws -> (LoginThrottle.Count, TimeInterval?) {
        let at = now()
        return try await mappingSQLErrors {
            try await db.withTransaction { tx in
                let count = try await self.throttle.count(accountHash, now: at, in: tx)
                guard let wait = self.throttle.retryAfter(count, now: at) else { return (count, nil) }
                try await self.auditFailedLogin(account: account, tenantID: tenantID, reason: .throttled, attempts: count.attempts,
                                                requestID: requestID, in: tx)
                return (count, wait)
            }
        }
    }

    /// Audits a wrong password, unknown email or inactive user (the attempt was already counted).
    func recordFailedLogin(account: String, tenantID: String, attempts: Int, requestID: String) async throws {
        try await mappingSQLErrors {
            try await db.withTransaction { tx in
                try await self.auditFailedLogin(account: account, tenantID: tenantID, reason: .badCredentials, attempts: attempts,
                                                requestID: requestID, in: tx)
            }
        }
    }

    /// `auth.login_failed` in the requested tenant's chain when that tenant exists, else in the
    /// platform chain. The row holds neither the password nor the typed email (people type
    /// passwords into the email field): the user id only where a reader of that chain already
    /// knows the user (a member of the tenant; any user in the platform chain, which only
    /// platform admins read). One statement for every case, so the paths cost the same.
    private func auditFailedLogin(account: String, tenantID: String, reason: LoginFailureReason, attempts: Int,
                                  requestID: String, in tx: PostgresConnection) async throws {
        let wanted = UUID(uuidString: tenantID)?.uuidString.lowercased()
        guard let row = try await tx.query("""
            SELECT t.id::text AS tenant_id,
                   (SELECT u.id::text FROM identity.users u WHERE lower(u.email) = $2
                      AND (t.id = $3::uuid OR EXISTS (SELECT 1 FROM identity.tenant_members m WHERE m.tenant_id = t.id AND m.user_id = u.id))
                   ) AS user_id
            FROM (SELECT coalesce((SELECT id FROM identity.tenants WHERE id = $1::uuid), $3::uuid) AS id) t
            """, wanted, account, platformAuditTenant).first
        else { throw IdentityError(.internal, "login audit scope missing") }
        let anonymous = Actor(principal: Principal(userID: "", tenantID: "", role: "", permissions: []), requestID: requestID)
        var draft = audit(anonymous, tenant: try row.decode(String.self, column: "tenant_id"), action: "auth.login_failed", resourceType: "user",
                          resourceID: (try row.decode(String?.self, column: "user_id")) ?? "", metadata: ["reason": reason.rawValue, "attempts": String(attempts)])
        draft.outcome = reason == .throttled ? .denied : .failure
        try await AuditWriter.append(draft, in: tx)
    }

    /// Deletes failed-login counters whose window has passed (called by the background loop).
    func pruneLoginFailures() async {
        do {
            try await db.withConnection { try await throttle.prune(now: now(), in: $0) }
        } catch {
            logger.warning("could not prune failed-login counters", metadata: ["error": "\(error)"])
        }
    }
}
