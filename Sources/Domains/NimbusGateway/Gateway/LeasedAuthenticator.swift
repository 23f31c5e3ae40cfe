import Foundation
import Metrics
import NimbusHTTP
import NimbusPlatform
import NimbusService
import NimbusRPCCore
import Synchronization

/// The gateway's default authenticator: identity's Authenticate behind a cache that is exact
/// about revocation. An answer is reused only while this gateway holds an auth lease from
/// identity (`AuthEpochWatcher`) and only if it was learned under the epoch that lease covers.
/// Identity makes every change that bumps the epoch (revoke, rotate, deactivate, membership
/// and role changes) wait, before it answers, until each gateway with a live lease has
/// acknowledged the new epoch — which makes all older entries unusable — or its lease has run
/// out. So a revoked key fails on the next request through any gateway, as with no cache.
///
/// Without a lease (identity unreachable, watch stream broken, lease not yet renewed) every
/// request asks identity, exactly as `IdentityAuthenticator` alone would; the cache refills
/// once the lease is back. Keys are held as SHA-256 digests; only successes are cached; an
/// entry also ends well before the signed principal it carries expires (so forwarded
/// principals are never stale) — which also means the principal is signed once per entry,
/// not once per request.
public final class LeasedAuthenticator: CallerAuthenticator {
    struct Entry {
        var caller: AuthenticatedCaller
        var epoch: Int64
        var validUntil: ContinuousClock.Instant
    }

    let upstream: any CallerAuthenticator
    public let watcher: AuthEpochWatcher
    let capacity: Int
    /// How long before the signed principal's expiry an entry stops being used.
    let principalMargin: Duration
    private let entries = Mutex<[KeyDigest: Entry]>([:])
    private let hits = Counter(label: "nimbus_gateway_auth_cache_total", dimensions: [("result", "hit")])
    private let misses = Counter(label: "nimbus_gateway_auth_cache_total", dimensions: [("result", "miss")])

    public init(upstream: any CallerAuthenticator, watcher: AuthEpochWatcher, capacity: Int = 50_000,
                principalMargin: Duration = .seconds(20)) {
        self.upstream = upstream
        self.watcher = watcher
        self.capacity = capacity
        self.principalMargin = principalMargin
    }

    public func authenticate(apiKey: String, identity: RequestIdentity) async throws -> AuthenticatedCaller {
        let digest = KeyDigest(apiKey)
        let now = ContinuousClock.now
        if let epoch = watcher.usableEpoch(at: now),
           let hit = entries.withLock({ $0[digest] }), hit.epoch == epoch, hit.validUntil > now {
            hits.increment()
            return hit.caller
        }
        misses.increment()
        // Read before asking: identity's answer reflects at least this epoch.
        let epoch = watcher.latestSeen
        let caller = try await upstream.authenticate(apiKey: apiKey, identity: identity)
        if epoch >= 0, let lifetime = Self.remainingLifetime(caller.signedPrincipal), lifetime > principalMargin {
            let entry = Entry(caller: caller, epoch: epoch, validUntil: now + lifetime - principalMargin)
            entries.withLock { entries in
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[digest] = entry
            }
        }
        return caller
    }

    public var count: Int { entries.withLock { $0.count } }

    /// How long the signed principal has left (at most five minutes); nil when it does not
    /// parse or has expired.
    static func remainingLifetime(_ token: [UInt8], now: Date = Date()) -> Duration? {
        guard let expiry = PrincipalSigner.unverifiedExpiry(of: token) else { return nil }
        let remaining = Int64((expiry.timeIntervalSince(now) * 1000).rounded(.down))
        return remaining > 0 ? .milliseconds(min(remaining, 300_000)) : nil
    }
}

/// SHA-256 of an API key as four words: a cheap dictionary key that holds no secret.
struct KeyDigest: Hashable, Sendable {
    var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ key: String) {
        let hash = SHA256.hash(key)
        func word(_ at: Int) -> UInt64 { hash[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        (a, b, c, d) = (word(0), word(8), word(16), word(24))
    }
}
