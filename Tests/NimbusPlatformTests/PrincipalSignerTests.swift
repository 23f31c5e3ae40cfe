import Foundation
import NimbusPlatform
import NimbusRPCCore
import Synchronization
import Testing

/// A clock the test moves by hand.
private final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

private let key = Secret(String(repeating: "k", count: 32))
private let otherKey = Secret(String(repeating: "o", count: 32))
private let alice = Principal(userID: "u-1", tenantID: "t-1", role: "developer",
                              permissions: BuiltInRole.developer.permissions, keyID: "key-1")

@Suite("Principal signing")
struct PrincipalSignerTests {
    @Test("canonical encoding round-trips and is order-independent")
    func encoding() {
        let encoded = alice.canonicalEncoding()
        #expect(Principal(canonicalEncoding: encoded) == alice)
        var shuffled = alice
        shuffled.permissions = Set(alice.permissions.shuffled())
        #expect(shuffled.canonicalEncoding() == encoded)
        #expect(Principal(canonicalEncoding: encoded + [0]) == nil)
        #expect(Principal(canonicalEncoding: Array(encoded.dropLast())) == nil)
        #expect(Principal(canonicalEncoding: []) == nil)
    }

    @Test("a signed principal verifies; the same key in another signer verifies too")
    func roundTrip() throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, now: clock.now)
        let token = signer.sign(alice)
        #expect(try signer.verify(token) == alice)
        #expect(try PrincipalSigner(key: key, now: clock.now).verify(token) == alice)
    }

    @Test("the expiry reads back without the key; anything else reads as nil")
    func unverifiedExpiry() throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, now: clock.now)
        let token = signer.sign(alice)
        #expect(PrincipalSigner.unverifiedExpiry(of: token) == clock.now().addingTimeInterval(Double(signer.lifetime.components.seconds)))
        #expect(PrincipalSigner.unverifiedExpiry(of: Array("signed:u-1".utf8)) == nil)
        #expect(PrincipalSigner.unverifiedExpiry(of: [1, 0, 0]) == nil)
    }

    @Test("a bound earlier than the lifetime caps the expiry; a later one changes nothing")
    func notAfter() throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, now: clock.now)
        let sunset = clock.now().addingTimeInterval(7)
        let capped = signer.sign(alice, notAfter: sunset)
        #expect(PrincipalSigner.unverifiedExpiry(of: capped) == sunset)
        #expect(try signer.verify(capped) == alice)
        let full = signer.sign(alice, notAfter: .distantFuture)
        #expect(PrincipalSigner.unverifiedExpiry(of: full) == PrincipalSigner.unverifiedExpiry(of: signer.sign(alice)))
        clock.advance(13)  // past the sunset and the verifier's clock-skew allowance
        #expect(throws: PrincipalError.self) { try signer.verify(capped) }
        #expect(try signer.verify(full) == alice)
    }

    @Test("any altered byte fails the signature", arguments: [0, 1, 5, 9, 12, 20, -1])
    func tampered(position: Int) throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, now: clock.now)
        var token = signer.sign(alice)
        let index = position >= 0 ? position : token.count + position
        token[index] ^= 0x01
        #expect(throws: PrincipalError.self) { try signer.verify(token) }
    }

    @Test("a token verified before (remembered) still has its tampered twins refused, its expiry enforced, and counts for no other key")
    func rememberedTokens() throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, lifetime: .seconds(60), clockSkew: .seconds(5), now: clock.now)
        let token = signer.sign(alice)
        for _ in 0..<3 { #expect(try signer.verify(token) == alice) }
        for index in [0, 5, 12, token.count - 1] {
            var twin = token
            twin[index] ^= 0x01
            #expect(throws: PrincipalError.self) { try signer.verify(twin) }
        }
        #expect(throws: PrincipalError(.badSignature)) { try PrincipalSigner(key: otherKey, now: clock.now).verify(token) }
        clock.advance(66)
        #expect(throws: PrincipalError(.expired)) { try signer.verify(token) }
        // Thousands of distinct callers: the memory stays bounded and every token still verifies.
        let many = (0..<2500).map { i in signer.sign(Principal(userID: "u-\(i)", tenantID: "t", role: "viewer", permissions: [])) }
        for (i, token) in many.enumerated() { #expect(try signer.verify(token).userID == "u-\(i)") }
        #expect(try signer.verify(many[0]).userID == "u-0")
    }

    @Test("an escalated role signed by someone else fails")
    func wrongKey() throws {
        let clock = ManualClock()
        let forger = try PrincipalSigner(key: otherKey, now: clock.now)
        var admin = alice
        admin.permissions.insert(.platformAdmin)
        let signer = try PrincipalSigner(key: key, now: clock.now)
        #expect(throws: PrincipalError(.badSignature)) { try signer.verify(forger.sign(admin)) }
    }

    @Test("expiry: valid within lifetime + skew, refused after")
    func expiry() throws {
        let clock = ManualClock()
        let signer = try PrincipalSigner(key: key, lifetime: .seconds(60), clockSkew: .seconds(5), now: clock.now)
        let token = signer.sign(alice)
        clock.advance(64)
        #expect(try signer.verify(token) == alice)
        clock.advance(2)
        #expect(throws: PrincipalError(.expired)) { try signer.verify(token) }
    }

    @Test("a token claiming a longer lifetime than the verifier allows is refused")
    func tooLong() throws {
        let clock = ManualClock()
        let generous = try PrincipalSigner(key: key, lifetime: .seconds(86_400), now: clock.now)
        let strict = try PrincipalSigner(key: key, maxLifetime: .seconds(300), now: clock.now)
        #expect(throws: PrincipalError(.lifetimeTooLong)) { try strict.verify(generous.sign(alice)) }
    }

    @Test("key rotation: previous keys verify, only the current key signs")
    func rotation() throws {
        let clock = ManualClock()
        let old = try PrincipalSigner(key: otherKey, now: clock.now)
        let rotated = try PrincipalSigner(key: key, previousKeys: [otherKey], now: clock.now)
        #expect(try rotated.verify(old.sign(alice)) == alice)
        #expect(throws: PrincipalError.self) { try old.verify(rotated.sign(alice)) }
    }

    @Test("short keys and a missing key are configuration errors")
    func configuration() {
        #expect(throws: ConfigError.self) { try PrincipalSigner(key: Secret("short")) }
        #expect(throws: ConfigError.self) { try PrincipalSigner.fromEnvironment(ConfigSource(environment: [:])) }
        #expect(throws: Never.self) {
            try PrincipalSigner.fromEnvironment(ConfigSource(environment: ["NIMBUS_PRINCIPAL_KEY": key.reveal()]))
        }
    }

    @Test("ServerContext: unsigned, garbage and valid principals")
    func serverContext() throws {
        let signer = try PrincipalSigner(key: key)
        let method = MethodDescriptor(service: "nimbus.test.v1.T", method: "M", kind: .unary)
        let unsigned = ServerContext(method: method, metadata: [:], deadline: nil, peer: "127.0.0.1:1")
        #expect(throws: PrincipalError(.missing)) { try unsigned.principal(signer) }
        #expect(RPCError(mapping: PrincipalError(.missing)).code == .unauthenticated)

        var garbage = Metadata()
        garbage.add(PrincipalSigner.metadataKey, binary: [1, 2, 3])
        let bad = ServerContext(method: method, metadata: garbage, deadline: nil, peer: "127.0.0.1:1")
        #expect(throws: PrincipalError.self) { try bad.principal(signer) }

        let options = CallOptions.acting(as: alice, signer: signer)
        let good = ServerContext(method: method, metadata: options.metadata, deadline: nil, peer: "127.0.0.1:1")
        #expect(try good.principal(signer) == alice)
        #expect(try good.principal(signer, requiring: .instanceLaunch) == alice)
        let denied = #expect(throws: AuthorizationError.self) { try good.principal(signer, requiring: .iamManage) }
        #expect(denied.map { RPCError(mapping: $0).code } == .permissionDenied)
    }
}

@Suite("RBAC")
struct RBACTests {
    @Test("built-in roles nest: viewer ⊂ developer ⊂ admin; none holds platform:admin")
    func roles() {
        #expect(BuiltInRole.viewer.permissions.isSubset(of: BuiltInRole.developer.permissions))
        #expect(BuiltInRole.developer.permissions.isSubset(of: BuiltInRole.admin.permissions))
        #expect(BuiltInRole.allCases.allSatisfy { !$0.permissions.contains(.platformAdmin) })
        #expect(BuiltInRole.allCases.allSatisfy { $0.permissions.allSatisfy(\.isWellFormed) })
        #expect(!BuiltInRole.viewer.permissions.contains(.instanceLaunch))
        #expect(!BuiltInRole.developer.permissions.contains(.iamManage))
    }

    @Test("Check throws PERMISSION_DENIED for a missing permission; platform admin passes everything")
    func check() throws {
        let viewer = Principal(userID: "u", tenantID: "t", role: "viewer", permissions: BuiltInRole.viewer.permissions)
        #expect(throws: Never.self) { try Authorization.check(viewer, .instanceRead) }
        #expect(throws: AuthorizationError(missing: .instanceLaunch)) { try Authorization.check(viewer, .instanceLaunch) }
        let operator_ = Principal(userID: "u", tenantID: "t", role: "viewer", permissions: [.platformAdmin])
        #expect(throws: Never.self) { try Authorization.check(operator_, .iamManage) }
    }

    @Test("permission shape", arguments: [("instance:read", true), ("a:b", true), ("Instance:read", false),
                                           ("instance", false), ("a:b:c", false), (":read", false), ("x:y z", false)])
    func wellFormed(text: String, valid: Bool) {
        #expect(Permission(text).isWellFormed == valid)
    }
}
