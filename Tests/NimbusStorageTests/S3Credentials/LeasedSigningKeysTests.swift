import Foundation
import NimbusPlatform
import NimbusService
import NimbusStorage
import Synchronization
import Testing

/// An auth lease under test control: the epoch usable now (nil: no lease) and the newest heard.
final class FixedLease: AuthLeaseView {
    let state = Mutex<(usable: Int64?, seen: Int64)>((nil, -1))
    func usableEpoch(at now: ContinuousClock.Instant) -> Int64? { state.withLock { $0.usable } }
    var latestSeen: Int64 { state.withLock { $0.seen } }
    func set(usable: Int64?, seen: Int64) { state.withLock { $0 = (usable, seen) } }
}

/// Identity as the cache sees it: keys it knows, revocable, counting questions.
final class CountingKeys: S3SigningKeyProvider {
    let state = Mutex<(secrets: [String: String], calls: Int)>(([exampleAccessKeyID: exampleSecret], 0))
    var calls: Int { state.withLock { $0.calls } }
    func revoke(_ id: String) { state.withLock { $0.secrets[id] = nil } }

    func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant {
        let secret = state.withLock { state -> String? in
            state.calls += 1
            return state.secrets[accessKeyID]
        }
        guard let secret else { throw S3AuthError.invalidAccessKey() }
        return S3SigningKeyGrant(signingKey: SigV4.signingKey(secret: secret, date: date, region: region),
                                 caller: S3Caller(principal: Principal(userID: "u", tenantID: "t", role: "developer", permissions: []),
                                                  accessKeyID: accessKeyID))
    }
}

@Suite("Signing keys cached under the auth lease")
struct LeasedSigningKeysTests {
    @Test("grants are reused only under a lease on the epoch they were learned in; a revocation's new epoch retires them")
    func lease() async throws {
        let lease = FixedLease()
        let identity = CountingKeys()
        let keys = LeasedSigningKeys(upstream: identity, lease: lease)
        let ask = { try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261207", region: "us-east-1") }

        // No lease: every request asks identity.
        for _ in 0..<3 { _ = try await ask() }
        #expect(identity.calls == 3)

        lease.set(usable: 5, seen: 5)
        _ = try await ask()
        for _ in 0..<5 { _ = try await ask() }
        #expect(identity.calls == 4)

        // A revocation bumps the epoch; once heard, the old grant is unusable even before the ack.
        identity.revoke(exampleAccessKeyID)
        lease.set(usable: nil, seen: 6)
        let refused = await s3Error { _ = try await ask() }
        #expect(refused?.code == .invalidAccessKeyId)
        lease.set(usable: 6, seen: 6)
        #expect(await s3Error { _ = try await ask() }?.code == .invalidAccessKeyId)
        #expect(identity.calls == 6)  // refusals are never cached
    }

    @Test("different days and regions are different keys")
    func scopes() async throws {
        let lease = FixedLease()
        lease.set(usable: 1, seen: 1)
        let identity = CountingKeys()
        let keys = LeasedSigningKeys(upstream: identity, lease: lease)
        let a = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261207", region: "us-east-1")
        let b = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261208", region: "us-east-1")
        let c = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261207", region: "eu-west-1")
        #expect(a.signingKey != b.signingKey && a.signingKey != c.signingKey)
        #expect(identity.calls == 3 && keys.count == 3)
        _ = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261208", region: "us-east-1")
        #expect(identity.calls == 3)
    }

    @Test("an entry ends after its maximum age whatever the epoch")
    func age() async throws {
        let lease = FixedLease()
        lease.set(usable: 1, seen: 1)
        let identity = CountingKeys()
        let keys = LeasedSigningKeys(upstream: identity, lease: lease, maximumAge: .milliseconds(20))
        _ = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261207", region: "us-east-1")
        try await Task.sleep(for: .milliseconds(40))
        _ = try await keys.signingKey(accessKeyID: exampleAccessKeyID, date: "20261207", region: "us-east-1")
        #expect(identity.calls == 2)
    }
}
