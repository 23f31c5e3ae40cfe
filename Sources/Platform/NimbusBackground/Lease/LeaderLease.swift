import Foundation
import Logging
import NimbusPostgres
import Synchronization

/// A named lease in `<schema>.worker_leases`: at most one replica holds it at a time; the holder
/// renews it, and when it stops renewing (crash, partition) another takes it once it expired.
/// Use it for work that must run on one replica only (a reconciler, housekeeping, a scheduler).
///
///     let lease = LeaderLease(pool: pool, schema: schema, name: "reconciler", ttl: .seconds(6))
///     if try await lease.acquire() { … act as leader … }
public final class LeaderLease: Sendable {
    public let name: String
    /// This replica's identity in the table (`<service>:<uuid>` unless given).
    public let holder: String
    public let ttl: Duration
    let pool: PostgresPool
    let schema: BackgroundSchema
    private let machine: Mutex<LeaseStateMachine>

    public init(pool: PostgresPool, schema: BackgroundSchema, name: String, ttl: Duration = .seconds(6), holder: String? = nil) {
        self.pool = pool
        self.schema = schema
        self.name = name
        self.ttl = ttl
        self.holder = holder ?? "\(schema.service):\(UUID().uuidString.lowercased())"
        self.machine = Mutex(LeaseStateMachine(ttl: ttl))
    }

    /// True while this replica may act as the holder (its local view of the last grant).
    public var isHeld: Bool { machine.withLock { $0.isHeld(at: .now) } }

    /// When this replica should call `acquire()` next.
    public var nextAttempt: ContinuousClock.Instant { machine.withLock { $0.nextAttempt(after: .now) } }

    /// Takes the lease if it is free or expired, renews it if this replica holds it; true when
    /// this replica holds it afterwards. A database error keeps a lease that still has time
    /// left (and is rethrown only when it does not).
    @discardableResult
    public func acquire() async throws -> Bool {
        let sentAt = ContinuousClock.now
        let granted: Bool
        do {
            let rows = try await pool.query("""
                INSERT INTO \(schema.leasesTable) AS l (name, holder, expires_at)
                VALUES ($1, $2, now() + make_interval(secs => $3::double precision))
                ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
                RETURNING holder
                """, name, holder, ttl.seconds)
            granted = !rows.isEmpty
        } catch {
            let change = machine.withLock { $0.failed(now: .now) }
            if change == .unconfirmed { return true }
            throw error
        }
        let change = machine.withLock { $0.answered(granted: granted, sentAt: sentAt, now: .now) }
        return change == .acquired || change == .renewed
    }

    /// Gives the lease up (graceful stop) so another replica need not wait for it to expire.
    public func release() async {
        machine.withLock { $0.released() }
        _ = try? await pool.execute("DELETE FROM \(schema.leasesTable) WHERE name = $1 AND holder = $2", name, holder)
    }
}

extension Duration {
    /// Seconds as a Double, for `make_interval(secs => …)`.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
