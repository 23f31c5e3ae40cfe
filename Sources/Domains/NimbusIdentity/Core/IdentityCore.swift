import Foundation
import NimbusPostgres
import Logging
import NimbusPlatform
import NimbusRPCCore

/// Identity's operations over plain Swift values: every check (tenant scope, permission,
/// validation), every SQL statement and every audit entry. The RPC handlers only translate
/// messages to and from these calls.
final class IdentityCore: Sendable {
    let db: PostgresPool
    let signer: PrincipalSigner
    let hasher: PasswordHasher
    let cache: AuthCache
    let lastUsed: LastUsedRecorder
    let throttle: LoginThrottle
    let logger: Logger
    /// How long a Login session key lives.
    let sessionLifetime: TimeInterval
    let now: @Sendable () -> Date
    /// A hash of a random password with this hasher's parameters: verified against when an
    /// email is unknown, so both paths cost the same.
    let decoyHash: String
    /// Batches the per-request epoch reads (see `EpochReader`).
    let epochs: EpochReader
    /// How long an `AckAuthEpoch` lease lasts (see `IdentityCore+Leases`).
    let authLease: Duration
    /// Feeds `WatchAuthEpoch` streams.
    let epochBroadcaster: AuthEpochBroadcaster

    init(db: PostgresPool, signer: PrincipalSigner, hasher: PasswordHasher, logger: Logger,
         throttle: LoginThrottle = LoginThrottle(), sessionLifetime: TimeInterval = 12 * 3600,
         authLease: Duration = .seconds(3), epochFeed: AuthEpochFeed? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.db = db
        self.signer = signer
        self.hasher = hasher
        self.cache = AuthCache()
        self.lastUsed = LastUsedRecorder()
        self.throttle = throttle
        self.logger = logger
        self.sessionLifetime = sessionLifetime
        self.now = now
        let readEpoch: @Sendable () async throws -> Int64 = { [db] in
            guard let row = try await db.query("SELECT epoch FROM identity.auth_epoch WHERE singleton", binds: []).first else {
                throw IdentityError(.internal, "auth epoch missing")
            }
            return (try row.decode(Int64.self, column: "epoch"))
        }
        self.epochs = EpochReader(read: readEpoch)
        self.authLease = authLease
        self.epochBroadcaster = AuthEpochBroadcaster(read: readEpoch, feed: epochFeed)
        self.decoyHash = (try? hasher.hash(UUID().uuidString)) ?? "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    }

    /// A transaction whose constraint violations surface as domain errors. When it bumped the
    /// auth epoch (the trigger notes the new value in a transaction-local setting), it returns
    /// only once every gateway holding an auth lease has acknowledged the new epoch.
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let (result, bumped) = try await mappingSQLErrors {
            try await db.withTransaction { tx -> (T, Int64?) in
                let result = try await body(tx)
                let row = try await tx.query("SELECT current_setting('nimbus.auth_epoch_bumped', true) AS epoch").first
                return (result, (try row?.decode(String?.self, column: "epoch")).flatMap { Int64($0) })
            }
        }
        if let bumped { await awaitLeases(epoch: bumped) }
        return result
    }

    func query(_ sql: String, _ parameters: String?...) async throws -> PostgresRows {
        try await mappingSQLErrors { try await db.query(sql, binds: parameters.map { $0 as any PostgresEncodable }) }
    }

    /// An identity-produced audit draft for `actor` in `tenantID`.
    func audit(_ actor: Actor, tenant tenantID: String, action: String, resourceType: String, resourceID: String,
               metadata: [String: String] = [:]) -> AuditDraft {
        AuditDraft(
            eventID: UUID().uuidString.lowercased(), tenantID: tenantID.isEmpty ? platformAuditTenant : tenantID,
            actorUserID: actor.userID, actorKeyID: actor.principal.keyID, action: action, resourceType: resourceType,
            resourceID: resourceID, outcome: .success, requestID: actor.requestID, source: "nimbus-identity",
            occurredAtMicros: Int64((now().timeIntervalSince1970 * 1_000_000).rounded(.down)), metadata: metadata)
    }

    /// Resolves a role name for `tenantID`: a built-in role or one of the tenant's custom roles.
    func roleID(named name: String, tenant tenantID: String, in tx: PostgresConnection) async throws -> String {
        let name = name.isEmpty ? BuiltInRole.viewer.rawValue : name
        guard let row = try await tx.query(
            "SELECT id::text AS id FROM identity.roles WHERE name = $1 AND (tenant_id IS NULL OR tenant_id = $2::uuid)", name, tenantID).first
        else { throw IdentityError.notFound("role '\(name)'") }
        return (try row.decode(String.self, column: "id"))
    }

    func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) }
}
