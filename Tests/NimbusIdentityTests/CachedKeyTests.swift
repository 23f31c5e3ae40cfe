import Foundation
import NimbusPlatform
import Testing
@testable import NimbusIdentity

/// How long a secret keeps opening a key: what the signed principal's expiry is capped at.
@Suite("Cached key validity")
struct CachedKeyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let current: [UInt8] = Array(repeating: 1, count: 32)
    let previous: [UInt8] = Array(repeating: 2, count: 32)
    let principal = Principal(userID: "u", tenantID: "t", role: "viewer", permissions: [], keyID: "k")

    func key(expiresIn: TimeInterval? = nil, sunsetIn: TimeInterval? = nil) -> CachedKey {
        CachedKey(keyID: "k", principal: principal, secretHash: current,
                  previousSecretHash: sunsetIn == nil ? nil : previous,
                  previousValidUntil: sunsetIn.map { now.addingTimeInterval($0) },
                  expiresAt: expiresIn.map { now.addingTimeInterval($0) })
    }

    @Test("the current secret is bounded by the key's expiry only")
    func currentSecret() {
        #expect(key().acceptedUntil(current, now: now) == .distantFuture)
        #expect(key(expiresIn: 30, sunsetIn: 5).acceptedUntil(current, now: now) == now.addingTimeInterval(30))
        #expect(key(expiresIn: -1).acceptedUntil(current, now: now) == nil)
    }

    @Test("the previous secret ends at its sunset, or the key's expiry if earlier")
    func previousSecret() {
        #expect(key(sunsetIn: 5).acceptedUntil(previous, now: now) == now.addingTimeInterval(5))
        #expect(key(expiresIn: 3, sunsetIn: 5).acceptedUntil(previous, now: now) == now.addingTimeInterval(3))
        #expect(key(sunsetIn: 0).acceptedUntil(previous, now: now) == nil)
        #expect(key(sunsetIn: 5).accepts(previous, now: now.addingTimeInterval(6)) == false)
    }

    @Test("an unknown secret opens nothing")
    func unknownSecret() {
        #expect(key(sunsetIn: 5).acceptedUntil(Array(repeating: 3, count: 32), now: now) == nil)
    }
}
