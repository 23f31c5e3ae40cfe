import Foundation
import Metrics
import NimbusService
import Synchronization

/// Signing keys cached under identity's auth lease — the gateway's mechanism for API keys
/// (`AuthEpochWatcher`, see LeasedAuthenticator), reused: a grant is served from memory only
/// while this process holds a lease and only for the epoch it was learned under. Revoking or
/// expiring an API key (and every other auth change) bumps the epoch, and identity answers the
/// revocation only after every live lease holder has acknowledged the new epoch — after which
/// no older grant is used. So a revoked key fails on its next S3 request, cached or not.
///
/// Without a lease every request asks identity. Only grants are cached, never refusals; an
/// entry also ends after `maximumAge` (5 minutes) whatever the epoch.
public final class LeasedSigningKeys: S3SigningKeyProvider {
    struct Key: Hashable {
        var accessKeyID: String
        var date: String
        var region: String
    }

    struct Entry {
        var grant: S3SigningKeyGrant
        var epoch: Int64
        var validUntil: ContinuousClock.Instant
    }

    let upstream: any S3SigningKeyProvider
    public let lease: any AuthLeaseView
    let capacity: Int
    let maximumAge: Duration
    private let entries = Mutex<[Key: Entry]>([:])
    private let hits = Counter(label: "nimbus_storage_signing_key_cache_total", dimensions: [("result", "hit")])
    private let misses = Counter(label: "nimbus_storage_signing_key_cache_total", dimensions: [("result", "miss")])

    public init(upstream: any S3SigningKeyProvider, lease: any AuthLeaseView, capacity: Int = 20_000, maximumAge: Duration = .seconds(300)) {
        self.upstream = upstream
        self.lease = lease
        self.capacity = capacity
        self.maximumAge = maximumAge
    }

    public func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant {
        let key = Key(accessKeyID: accessKeyID, date: date, region: region)
        let now = ContinuousClock.now
        if let epoch = lease.usableEpoch(at: now),
           let hit = entries.withLock({ $0[key] }), hit.epoch == epoch, hit.validUntil > now {
            hits.increment()
            return hit.grant
        }
        misses.increment()
        // Read before asking: identity's answer reflects at least this epoch.
        let epoch = lease.latestSeen
        let grant = try await upstream.signingKey(accessKeyID: accessKeyID, date: date, region: region)
        if epoch >= 0 {
            let entry = Entry(grant: grant, epoch: epoch, validUntil: now + maximumAge)
            entries.withLock { entries in
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[key] = entry
            }
        }
        return grant
    }

    public var count: Int { entries.withLock { $0.count } }
}
