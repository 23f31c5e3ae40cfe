import NimbusHTTP
import NimbusProtoJSON
import NimbusTestSupport
import Synchronization
import NimbusRPCCore
import Testing
@testable import NimbusGateway

@Suite struct CachingAuthenticatorTests {
    let identity = TestIdentity()

    func cached(ttl: Duration = .seconds(10)) -> CachingAuthenticator {
        CachingAuthenticator(upstream: IdentityAuthenticator(transport: LoopbackTransport(identity.methods)) { TestIdentity.servicePrincipal },
                             ttl: ttl)
    }

    let request = RequestIdentity(requestID: "r", traceparent: nil)

    @Test func hitsSkipIdentityAndFailuresAreNotCached() async throws {
        let cache = cached()
        let before = identity.calls.withLock { $0 }
        _ = try await cache.authenticate(apiKey: "nmb_good_secret", identity: request)
        _ = try await cache.authenticate(apiKey: "nmb_good_secret", identity: request)
        #expect(identity.calls.withLock { $0 } == before + 1)
        for _ in 0..<2 { _ = try? await cache.authenticate(apiKey: "nmb_bad", identity: request) }
        #expect(identity.calls.withLock { $0 } == before + 3)
    }

    @Test func entriesExpire() async throws {
        let cache = cached(ttl: .milliseconds(20))
        _ = try await cache.authenticate(apiKey: "nmb_good_secret", identity: request)
        try await Task.sleep(for: .milliseconds(40))
        _ = identity.keys.withLock { $0.removeValue(forKey: "nmb_good_secret") }
        await #expect(throws: RPCError.self) { try await cache.authenticate(apiKey: "nmb_good_secret", identity: request) }
    }

    @Test func identityChangesThroughTheGatewayClearTheCache() async throws {
        let cache = cached()
        let gateway = try Gateway(descriptors: Fixtures.descriptors, upstreams: [:], authenticator: cache,
                                  limits: GatewayRateLimits(perKey: nil, perIP: nil))
        _ = try await cache.authenticate(apiKey: "nmb_other_secret", identity: request)
        #expect(cache.count == 1)
        gateway.didForward(MethodDescriptor(service: "nimbus.identity.v1.ApiKeys", method: "ListApiKeys", kind: .unary))
        #expect(cache.count == 1)
        gateway.didForward(MethodDescriptor(service: "nimbus.identity.v1.ApiKeys", method: "RevokeApiKey", kind: .unary))
        #expect(cache.count == 0)
        _ = identity.keys.withLock { $0.removeValue(forKey: "nmb_other_secret") }
        await #expect(throws: RPCError.self) { try await cache.authenticate(apiKey: "nmb_other_secret", identity: request) }
    }

    @Test func whichMethodsInvalidate() {
        func m(_ service: String, _ method: String) -> MethodDescriptor { MethodDescriptor(service: service, method: method, kind: .unary) }
        #expect(CachingAuthenticator.invalidates(m("nimbus.identity.v1.Users", "DeactivateUser")))
        #expect(CachingAuthenticator.invalidates(m("nimbus.identity.v1.Tenants", "RemoveMember")))
        #expect(CachingAuthenticator.invalidates(m("nimbus.identity.v1.Roles", "UpdateRole")))
        #expect(!CachingAuthenticator.invalidates(m("nimbus.identity.v1.Auth", "WhoAmI")))
        #expect(!CachingAuthenticator.invalidates(m("nimbus.identity.v1.Users", "ListUsers")))
        #expect(!CachingAuthenticator.invalidates(m("nimbus.compute.v1.Instances", "TerminateInstance")))
    }
}
