import NimbusEventLoop
import NimbusProtoJSON
import NimbusRPCCore
import Synchronization

/// Token buckets keyed by API key or client address. Each key may burst `capacity` requests and
/// then `refillPerSecond`. Memory is bounded: a bucket that has refilled completely is the same
/// as no bucket, so those are dropped first; beyond `maxKeys` the longest idle go.
public final class TokenBucketLimiter: Sendable {
    public struct Policy: Sendable, Hashable {
        public var capacity: Double
        public var refillPerSecond: Double
        public init(capacity: Double, refillPerSecond: Double) {
            precondition(capacity >= 1 && refillPerSecond > 0, "a rate limit needs capacity ≥ 1 and a positive rate")
            self.capacity = capacity
            self.refillPerSecond = refillPerSecond
        }
    }

    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        /// Whole tokens left after this request.
        public var remaining: Int
        /// When the request is refused, how long until one token is back (for `Retry-After`).
        public var retryAfter: Duration
        /// `Retry-After` in whole seconds, rounded up, at least 1.
        public var retryAfterSeconds: Int {
            let (seconds, attoseconds) = retryAfter.components
            return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
        }
    }

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    private struct State {
        var buckets: [String: Bucket] = [:]
        var operationsSinceSweep = 0
    }

    public let policy: Policy
    public let maxKeys: Int
    private let now: @Sendable () -> Double
    private let state = Mutex(State())

    /// `now` returns monotonic seconds; tests pass a fake clock.
    public init(policy: Policy, maxKeys: Int = 100_000, now: (@Sendable () -> Double)? = nil) {
        precondition(maxKeys > 0)
        self.policy = policy
        self.maxKeys = maxKeys
        self.now = now ?? {
            let elapsed = ContinuousClock.now - TokenBucketLimiter.origin
            let (s, a) = elapsed.components
            return Double(s) + Double(a) / 1e18
        }
    }

    private static let origin = ContinuousClock.now

    public var trackedKeys: Int { state.withLock { $0.buckets.count } }

    /// Takes `cost` tokens from `key`'s bucket if it has them.
    public func acquire(_ key: String, cost: Double = 1) -> Decision {
        let now = now()
        return state.withLock { state in
            var bucket = state.buckets[key] ?? Bucket(tokens: policy.capacity, updated: now)
            bucket.tokens = min(policy.capacity, bucket.tokens + max(0, now - bucket.updated) * policy.refillPerSecond)
            bucket.updated = now
            let decision: Decision
            if bucket.tokens >= cost {
                bucket.tokens -= cost
                decision = Decision(allowed: true, remaining: Int(bucket.tokens), retryAfter: .zero)
            } else {
                let wait = (cost - bucket.tokens) / policy.refillPerSecond
                decision = Decision(allowed: false, remaining: 0, retryAfter: .nanoseconds(Int64((wait * 1e9).rounded(.up))))
            }
            if state.buckets[key] == nil && state.buckets.count >= maxKeys {
                evict(&state, now: now)
            }
            state.buckets[key] = bucket
            state.operationsSinceSweep += 1
            if state.operationsSinceSweep >= max(1024, maxKeys) { sweep(&state, now: now) }
            return decision
        }
    }

    /// Drops buckets that have refilled completely (indistinguishable from new ones).
    private func sweep(_ state: inout State, now: Double) {
        state.operationsSinceSweep = 0
        let fullAfter = policy.capacity / policy.refillPerSecond
        state.buckets = state.buckets.filter { now - $0.value.updated < fullAfter }
    }

    /// Makes room for a new key: full buckets first, then the least recently used tenth.
    private func evict(_ state: inout State, now: Double) {
        sweep(&state, now: now)
        guard state.buckets.count >= maxKeys else { return }
        let drop = max(1, maxKeys / 10)
        let oldest = state.buckets.sorted { $0.value.updated < $1.value.updated }.prefix(drop).map(\.key)
        for key in oldest { state.buckets[key] = nil }
    }
}

/// The gateway's two limits: one per API key (after authentication) and one per client IP
/// (before it, so key guessing is limited too).
public struct GatewayRateLimits: Sendable {
    public let perKey: TokenBucketLimiter?
    public let perIP: TokenBucketLimiter?

    public init(perKey: TokenBucketLimiter.Policy?, perIP: TokenBucketLimiter.Policy?, maxKeys: Int = 100_000,
                now: (@Sendable () -> Double)? = nil) {
        self.perKey = perKey.map { TokenBucketLimiter(policy: $0, maxKeys: maxKeys, now: now) }
        self.perIP = perIP.map { TokenBucketLimiter(policy: $0, maxKeys: maxKeys, now: now) }
    }

    /// The 429 problem for a refused decision.
    public static func problem(_ decision: TokenBucketLimiter.Decision, scope: String) -> HTTPProblem {
        HTTPProblem(status: 429, code: .resourceExhausted,
                    detail: "rate limit exceeded for this \(scope); retry after \(decision.retryAfterSeconds)s",
                    headers: [("Retry-After", String(decision.retryAfterSeconds))])
    }
}
