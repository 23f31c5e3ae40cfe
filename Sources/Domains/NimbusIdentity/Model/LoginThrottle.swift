import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

/// Failed-login throttling per account, shared by every identity replica through
/// `identity.login_failures`: after `maxFailures` attempts within `window`, further attempts
/// are refused until the window passes; a successful login clears the count.
///
/// An attempt is counted *before* its password is checked, by one atomic upsert. Checking
/// first and counting after the (slow) scrypt verification would let concurrent attempts, on
/// one replica or several, all pass the check at `maxFailures - 1`. There is no in-process
/// cache: a cached "may try" would let replicas exceed the limit together, and a cached
/// "locked" would save no write, since every refused attempt is audited.
struct LoginThrottle: Sendable {
    let maxFailures: Int
    let window: TimeInterval

    init(maxFailures: Int = 5, window: TimeInterval = 900) {
        self.maxFailures = maxFailures
        self.window = window
    }

    /// The attempts counted in the account's current window, this one included.
    struct Count: Sendable, Equatable {
        var attempts: Int
        var windowStart: Date
    }

    /// The counter key of a normalized email: SHA-256 over a domain label and the email, so
    /// the table does not hold the attempted emails in plain text.
    static func accountHash(_ normalizedEmail: String) -> [UInt8] {
        SHA256.hash(Array("nimbus-login-throttle-v1\u{0}".utf8) + Array(normalizedEmail.utf8))
    }

    /// Counts one attempt in a single statement (no read-modify-write race between replicas):
    /// a new row, or one more in the open window, or a fresh window when the old one passed.
    func count(_ accountHash: [UInt8], now: Date, in db: PostgresConnection) async throws -> Count {
        let at = SQLText.timestamp("$2")
        let expired = "f.window_start <= \(at) - $3::bigint * interval '1 microsecond'"
        guard let row = try await db.query("""
            INSERT INTO identity.login_failures AS f (account_hash, failures, window_start) VALUES (decode($1, 'hex'), 1, \(at))
            ON CONFLICT (account_hash) DO UPDATE SET
                failures = CASE WHEN \(expired) THEN 1 ELSE least(f.failures + 1, 1000000) END,
                window_start = CASE WHEN \(expired) THEN \(at) ELSE f.window_start END
            RETURNING f.failures, \(SQLText.micros(column: "f.window_start", as: "start_us"))
            """, SQLText.hex(accountHash), SQLText.micros(now) as String, String(Int64(window * 1_000_000))).first,
            let start = try row.micros("start_us")
        else { throw IdentityError(.internal, "login throttle counter missing") }
        return Count(attempts: Int(try row.decode(Int64.self, column: "failures")), windowStart: start)
    }

    /// Seconds to wait when `count` is over the limit, or nil when the attempt may proceed.
    func retryAfter(_ count: Count, now: Date) -> TimeInterval? {
        guard count.attempts > maxFailures else { return nil }
        // To the millisecond, so the microsecond round trip through PostgreSQL does not turn
        // 50 s into "51 s"; clamped, since another replica's clock may be a little off.
        let left = ((window - now.timeIntervalSince(count.windowStart)) * 1000).rounded() / 1000
        return min(window, max(1, left))
    }

    func clear(_ accountHash: [UInt8], in db: PostgresConnection) async throws {
        _ = try await db.query("DELETE FROM identity.login_failures WHERE account_hash = decode($1, 'hex')", SQLText.hex(accountHash))
    }

    /// Deletes counters whose window has passed (they already count as empty).
    func prune(now: Date, in db: PostgresConnection) async throws {
        _ = try await db.query("DELETE FROM identity.login_failures WHERE window_start <= \(SQLText.timestamp("$1"))",
                               SQLText.micros(now.addingTimeInterval(-window)) as String)
    }
}
