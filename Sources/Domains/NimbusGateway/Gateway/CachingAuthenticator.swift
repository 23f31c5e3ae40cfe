import NimbusHTTP
import NimbusPlatform
import NimbusRPCCore
import Synchronization

/// An opt-in cache in front of identity's Authenticate (`NIMBUS_GATEWAY_AUTH_CACHE_MS`), for
/// deployments that trade strictness for latency. Keys are held as SHA-256 digests; only
/// successes are cached; entries live at most `ttl` (and never past the signed principal's
/// own expiry, which `ttl` is capped well below). Every identity call through this gateway
/// that can change who a key acts as (revoke, rotate, deactivate, membership and role changes)
/// clears the cache before its response leaves, so such a change made through this gateway
/// is effective on the next request; one made elsewhere takes effect within `ttl`.
/// Off by default: the default cache is `LeasedAuthenticator`, exact about revocation.
public final class CachingAuthenticator: CallerAuthenticator {
    private struct Entry {
        var caller: AuthenticatedCaller
        var expires: ContinuousClock.Instant
    }

    let upstream: any CallerAuthenticator
    let ttl: Duration
    let capacity: Int
    private let entries = Mutex<[[UInt8]: Entry]>([:])

    public init(upstream: any CallerAuthenticator, ttl: Duration, capacity: Int = 50_000) {
        self.upstream = upstream
        self.ttl = ttl
        self.capacity = capacity
    }

    public func authenticate(apiKey: String, identity: RequestIdentity) async throws -> AuthenticatedCaller {
        let digest = SHA256.hash(apiKey)
        let now = ContinuousClock.now
        if let hit = entries.withLock({ $0[digest] }), hit.expires > now { return hit.caller }
        let generation = entries.withLock { _ in invalidations.withLock { $0 } }
        let caller = try await upstream.authenticate(apiKey: apiKey, identity: identity)
        entries.withLock { entries in
            // An invalidation while identity answered may concern this very key: do not store.
            guard invalidations.withLock({ $0 }) == generation else { return }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[digest] = Entry(caller: caller, expires: now + ttl)
        }
        return caller
    }

    private let invalidations = Mutex(0)

    public func invalidateAll() {
        entries.withLock { entries in
            invalidations.withLock { $0 += 1 }
            entries.removeAll(keepingCapacity: true)
        }
    }

    public var count: Int { entries.withLock { $0.count } }

    /// Identity methods after which a cached key may act differently or not at all.
    public static func invalidates(_ method: MethodDescriptor) -> Bool {
        guard method.service.hasPrefix("nimbus.identity.") else { return false }
        return !["Get", "List", "WhoAmI", "Login", "Verify"].contains { method.method.hasPrefix($0) }
            && method.method != "CreateApiKey" && method.method != "CreateTenant" && method.method != "CreateUser"
    }
}
