import NimbusProtoJSON
import Synchronization
import Testing
@testable import NimbusGateway

/// A clock the test moves by hand.
final class FakeClock: Sendable {
    private let seconds = Mutex(0.0)
    func advance(_ delta: Double) { seconds.withLock { $0 += delta } }
    var now: @Sendable () -> Double { { [self] in seconds.withLock { $0 } } }
}

@Suite struct RateLimiterTests {
    @Test func burstThenRefuseWithRetryAfter() {
        let clock = FakeClock()
        let limiter = TokenBucketLimiter(policy: .init(capacity: 3, refillPerSecond: 0.5), now: clock.now)
        #expect((0..<3).allSatisfy { _ in limiter.acquire("k").allowed })
        let refused = limiter.acquire("k")
        #expect(!refused.allowed)
        #expect(refused.retryAfterSeconds == 2)
        clock.advance(1.0)
        #expect(!limiter.acquire("k").allowed)
        #expect(limiter.acquire("k").retryAfterSeconds == 1)
        clock.advance(1.0)
        let allowed = limiter.acquire("k")
        #expect(allowed.allowed)
        #expect(allowed.remaining == 0)
    }

    @Test func keysAreIndependent() {
        let clock = FakeClock()
        let limiter = TokenBucketLimiter(policy: .init(capacity: 1, refillPerSecond: 1), now: clock.now)
        #expect(limiter.acquire("a").allowed)
        #expect(!limiter.acquire("a").allowed)
        #expect(limiter.acquire("b").allowed)
    }

    @Test func refillNeverExceedsCapacity() {
        let clock = FakeClock()
        let limiter = TokenBucketLimiter(policy: .init(capacity: 2, refillPerSecond: 100), now: clock.now)
        _ = limiter.acquire("k")
        clock.advance(3600)
        #expect(limiter.acquire("k").remaining == 1)
        #expect(limiter.acquire("k").allowed)
        #expect(!limiter.acquire("k").allowed)
    }

    @Test func memoryStaysBounded() {
        let clock = FakeClock()
        let limiter = TokenBucketLimiter(policy: .init(capacity: 5, refillPerSecond: 1), maxKeys: 100, now: clock.now)
        for i in 0..<10_000 {
            _ = limiter.acquire("ip-\(i)")
            clock.advance(0.001)
        }
        #expect(limiter.trackedKeys <= 100)
        // A key that is still being limited survives eviction of idle ones.
        let fresh = TokenBucketLimiter(policy: .init(capacity: 1, refillPerSecond: 0.001), maxKeys: 10, now: clock.now)
        _ = fresh.acquire("hot")
        clock.advance(10)
        for i in 0..<5 { _ = fresh.acquire("other-\(i)") }
        #expect(!fresh.acquire("hot").allowed)
    }

    @Test func problemCarriesRetryAfter() {
        let clock = FakeClock()
        let limits = GatewayRateLimits(perKey: .init(capacity: 1, refillPerSecond: 0.25), perIP: nil, now: clock.now)
        _ = limits.perKey?.acquire("key")
        let decision = limits.perKey!.acquire("key")
        let problem = GatewayRateLimits.problem(decision, scope: "API key")
        #expect(problem.status == 429)
        #expect(problem.headers.first { $0.name == "Retry-After" }?.value == "4")
        #expect(limits.perIP == nil)
    }
}
