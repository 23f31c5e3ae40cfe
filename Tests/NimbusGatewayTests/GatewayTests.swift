import NimbusProtoJSON
import NimbusRPCCore
import NimbusTestSupport
import Synchronization
import Testing
@testable import NimbusGateway

/// A small identity: keys in a table (revocable), answering Authenticate like nimbus-identity.
final class TestIdentity: Sendable {
    let keys = Mutex<[String: (user: String, tenant: String, keyID: String)]>([
        "nmb_good_secret": ("u-1", "t-1", "k-1"),
        "nmb_other_secret": ("u-2", "t-1", "k-2"),
    ])
    let calls = Mutex(0)
    static let servicePrincipal: [UInt8] = Array("signed-service-principal".utf8)

    var methods: [ServerMethod] {
        [ServerMethod(IdentityAuthenticator.method, handler: .unary { [self] request, context in
            calls.withLock { $0 += 1 }
            guard context.metadata.binary("x-nimbus-principal-bin") == Self.servicePrincipal else {
                throw RPCError(.unauthenticated, "no service principal")
            }
            var reader = ProtoReader(request)
            var key = ""
            while let (field, type) = try reader.readTag() {
                if field == 1 { key = try reader.readString() } else { try reader.skip(type, field: field) }
            }
            guard let entry = keys.withLock({ $0[key] }) else { throw RPCError(.unauthenticated, "bad key") }
            var principal = ProtoWriter()
            for (number, value) in [(1, entry.user), (2, entry.tenant), (3, "admin"), (5, entry.keyID)] {
                principal.writeTag(number, .lengthDelimited)
                principal.writeLengthDelimited(Array(value.utf8))
            }
            var response = ProtoWriter()
            response.writeTag(1, .lengthDelimited)
            response.writeLengthDelimited(principal.bytes)
            response.writeTag(2, .lengthDelimited)
            response.writeLengthDelimited(Array("signed:\(entry.user)".utf8))
            return response.bytes
        })]
    }
}

/// The fixture's Instances service: answers with what it received, so tests can see the
/// forwarded request and metadata.
enum TestInstances {
    static let transcoder = Fixtures.transcoder

    static func method(_ name: String) -> MethodDescriptor {
        let service = Fixtures.descriptors.service("gatewaytest.v1.Instances")!
        return service.rpcMethod(service.methods.first { $0.name == name }!)
    }

    static var methods: [ServerMethod] {
        [
            ServerMethod(method("GetInstance"), handler: .unary { request, context in
                let json = try transcoder.json(fromProtobuf: request, messageType: "gatewaytest.v1.GetInstanceRequest")
                let id = json["id"]?.stringValue ?? ""
                if id == "missing" { throw RPCError(.notFound, "instance missing not found") }
                let principal = context.metadata.binary("x-nimbus-principal-bin").map { String(decoding: $0, as: UTF8.self) } ?? ""
                context.addResponseHeader("x-upstream", value: "yes")
                let labels: JSONValue = .object([
                    "principal": .string(principal),
                    "requestId": .string(context.metadata["x-request-id"] ?? ""),
                    "traceparent": .string(context.metadata["traceparent"] ?? ""),
                    "forwardedFor": .string(context.metadata["x-forwarded-for"] ?? ""),
                    "apiKey": .string(context.metadata["authorization"] ?? context.metadata["x-api-key"] ?? ""),
                    "custom": .string(context.metadata["x-custom"] ?? ""),
                    "hasDeadline": .string(context.deadline == nil ? "no" : "yes"),
                ])
                return try transcoder.protobuf(fromJSON: .object(["id": .string(id), "memoryBytes": .string("4294967296"),
                                                                  "labels": labels]),
                                               messageType: Fixtures.instance)
            }),
            ServerMethod(method("Watch"), handler: .streaming { requests, responses, context in
                context.addResponseHeader("x-upstream", value: "watch")
                context.addTrailer("x-upstream-done", value: "3")
                for try await request in requests {
                    let json = try transcoder.json(fromProtobuf: request, messageType: "gatewaytest.v1.GetInstanceRequest")
                    for i in 0..<3 {
                        try await responses.write(try transcoder.protobuf(
                            fromJSON: .object(["id": json["id"] ?? .null, "cpuMillis": .integer(i)]), messageType: Fixtures.instance))
                    }
                }
            }),
        ]
    }
}

@Suite struct GatewayTests {
    let identity = TestIdentity()

    func makeGateway(_ configure: (inout Gateway.Configuration) -> Void = { _ in },
                     limits: GatewayRateLimits = GatewayRateLimits(perKey: nil, perIP: nil)) throws -> Gateway {
        var configuration = Gateway.Configuration()
        configuration.accessLog = false
        configure(&configuration)
        let authenticator = IdentityAuthenticator(transport: LoopbackTransport(identity.methods)) { TestIdentity.servicePrincipal }
        return try Gateway(configuration: configuration, descriptors: Fixtures.descriptors,
                           upstreams: ["gatewaytest.v1.Instances": LoopbackTransport(TestInstances.methods)],
                           authenticator: authenticator, limits: limits)
    }

    func get(_ gateway: Gateway, _ target: String, key: String? = "nmb_good_secret",
             headers: [(name: String, value: String)] = []) async -> GatewayHTTPResponse {
        var all = headers
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        return await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: target, headers: all, peer: "127.0.0.1:4000"))
    }

    func json(_ response: GatewayHTTPResponse) throws -> JSONValue { try JSONParser.parse(response.body) }

    @Test func restCallForwardsWithPrincipalRequestIDAndTrace() async throws {
        let gateway = try makeGateway()
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let response = await get(gateway, "/v1/instances/i-1", headers: [("x-request-id", "req-123"), ("traceparent", traceparent)])
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        #expect(response.header("x-request-id") == "req-123")
        let body = try json(response)
        #expect(body["id"] == .string("i-1"))
        #expect(body["memoryBytes"] == .string("4294967296"))
        let labels = try #require(body["labels"])
        #expect(labels["principal"] == .string("signed:u-1"))
        #expect(labels["requestId"] == .string("req-123"))
        #expect(labels["apiKey"] == .string(""))
        #expect(labels["forwardedFor"] == .string("127.0.0.1"))
        #expect(labels["hasDeadline"] == .string("yes"))
        let upstreamTrace = try #require(labels["traceparent"]?.stringValue)
        #expect(upstreamTrace.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-"))
        #expect(!upstreamTrace.contains("b7ad6b7169203331"))
    }

    @Test func requestIDIsGeneratedWhenAbsentOrUnsafe() async throws {
        let gateway = try makeGateway()
        let response = await get(gateway, "/v1/instances/i-1", headers: [("x-request-id", "bad id\u{7}")])
        let id = try #require(response.header("x-request-id"))
        #expect(id.count == 32)
        #expect(try json(response)["labels"]?["requestId"] == .string(id))
    }

    @Test func missingOrBadKeysAre401() async throws {
        let gateway = try makeGateway()
        for (key, fragment) in [(nil, "API key is required"), ("nmb_wrong", "invalid API key")] as [(String?, String)] {
            let response = await get(gateway, "/v1/instances/i-1", key: key)
            #expect(response.status == 401)
            #expect(response.header("content-type") == "application/problem+json")
            #expect(response.header("www-authenticate") == "Bearer")
            let problem = try json(response)
            #expect(problem["code"] == .string("UNAUTHENTICATED"))
            #expect(problem["detail"]?.stringValue?.contains(fragment) == true)
            #expect(problem["requestId"] == .string(response.header("x-request-id") ?? "?"))
        }
        let basic = await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: "/v1/instances/i-1",
                                                                headers: [("authorization", "Basic abc")]))
        #expect(basic.status == 401)
        let viaHeader = await get(gateway, "/v1/instances/i-1", key: nil, headers: [("x-api-key", "nmb_good_secret")])
        #expect(viaHeader.status == 200)
    }

    @Test func revokedKeyFailsOnTheNextRequest() async throws {
        let gateway = try makeGateway()
        #expect(await get(gateway, "/v1/instances/i-1", key: "nmb_other_secret").status == 200)
        _ = identity.keys.withLock { $0.removeValue(forKey: "nmb_other_secret") }
        #expect(await get(gateway, "/v1/instances/i-1", key: "nmb_other_secret").status == 401)
    }

    @Test func rateLimitsAnswer429WithRetryAfter() async throws {
        let clock = FakeClock()
        let gateway = try makeGateway(limits: GatewayRateLimits(perKey: .init(capacity: 2, refillPerSecond: 0.5), perIP: nil, now: clock.now))
        #expect(await get(gateway, "/v1/instances/a").status == 200)
        #expect(await get(gateway, "/v1/instances/a").status == 200)
        let limited = await get(gateway, "/v1/instances/a")
        #expect(limited.status == 429)
        #expect(limited.header("retry-after") == "2")
        #expect(try json(limited)["code"] == .string("RESOURCE_EXHAUSTED"))
        // Another key has its own bucket.
        #expect(await get(gateway, "/v1/instances/a", key: "nmb_other_secret").status == 200)
        clock.advance(2)
        #expect(await get(gateway, "/v1/instances/a").status == 200)
    }

    @Test func perIPLimitAppliesBeforeAuthentication() async throws {
        let clock = FakeClock()
        let gateway = try makeGateway(limits: GatewayRateLimits(perKey: nil, perIP: .init(capacity: 1, refillPerSecond: 0.1), now: clock.now))
        let before = identity.calls.withLock { $0 }
        #expect(await get(gateway, "/v1/instances/a", key: "nmb_guess1").status == 401)
        #expect(await get(gateway, "/v1/instances/a", key: "nmb_guess2").status == 429)
        #expect(identity.calls.withLock { $0 } == before + 1)
    }

    @Test func upstreamErrorsBecomeProblems() async throws {
        let gateway = try makeGateway()
        let missing = await get(gateway, "/v1/instances/missing")
        #expect(missing.status == 404)
        #expect(try json(missing)["detail"] == .string("instance missing not found"))
        #expect(try json(missing)["instance"] == .string("/v1/instances/missing"))
        let unrouted = await get(gateway, "/v1/nothing")
        #expect(unrouted.status == 404)
        let wrongVerb = await gateway.handleHTTP(GatewayHTTPRequest(method: "PUT", target: "/v1/instances/x"))
        #expect(wrongVerb.status == 405)
        #expect(wrongVerb.header("allow")?.contains("GET") == true)
        // The route exists but its service has no upstream here.
        let noUpstream = await gateway.handleHTTP(GatewayHTTPRequest(method: "POST", target: "/v1/instances/x:stop",
                                                                     headers: [("authorization", "Bearer nmb_good_secret")]))
        #expect(noUpstream.status == 501)
    }

    @Test func badRequestsAre400BeforeAnyUpstreamCall() async throws {
        let gateway = try makeGateway()
        let response = await get(gateway, "/v1/instances/x?bogus=1")
        // GetInstance has no query fields: bogus is unknown.
        #expect(response.status == 400)
        #expect(try json(response)["detail"]?.stringValue?.contains("bogus") == true)
    }

    @Test func bodySizeIsLimited() async throws {
        let gateway = try makeGateway { $0.maxRequestBodyBytes = 16 }
        let response = await gateway.handleHTTP(GatewayHTTPRequest(
            method: "POST", target: "/v1/instances", headers: [("authorization", "Bearer nmb_good_secret")],
            body: Array(repeating: UInt8(ascii: " "), count: 17)))
        #expect(response.status == 413)
    }

    @Test func serverStreamingRoutesAnswerAnArray() async throws {
        // Watch has no HTTP rule in the fixture; call it over the gRPC face instead.
        let gateway = try makeGateway()
        let services = gateway.proxyServices()
        let watch = try #require(services.first?.methods.first { $0.descriptor.method == "Watch" })
        var metadata = Metadata()
        metadata.add("authorization", "Bearer nmb_good_secret")
        let context = ServerContext(method: watch.descriptor, metadata: metadata, deadline: nil, peer: "127.0.0.1:9")
        guard case .streaming(let handler) = watch.handler else { Issue.record("Watch should stream"); return }
        let request = try TestInstances.transcoder.protobuf(fromJSON: .object(["id": .string("w")]), messageType: "gatewaytest.v1.GetInstanceRequest")
        let pending = Mutex([request][...])
        let output = Mutex<[[UInt8]]>([])
        try await handler(RPCMessageStream { pending.withLock { $0.popFirst() } },
                          RPCMessageWriter { message in output.withLock { $0.append(message) } }, context)
        #expect(output.withLock { $0.count } == 3)
        // The upstream's response metadata passes through, as for unary calls.
        #expect(context.responseHeaders["x-upstream"] == "watch")
        #expect(context.responseTrailers["x-upstream-done"] == "3")
    }

    @Test func openAPIIsServedWithoutAKey() async throws {
        let gateway = try makeGateway()
        let response = await get(gateway, "/v1/openapi.json", key: nil)
        #expect(response.status == 200)
        let document = try json(response)
        #expect(document["openapi"] == .string("3.1.0"))
        #expect(document["paths"]?["/v1/instances/{id}"] != nil)
    }

    @Test func corsIsOffByDefaultAndOnWhenConfigured() async throws {
        let off = try makeGateway()
        let plain = await get(off, "/v1/instances/a", headers: [("origin", "https://app.example")])
        #expect(plain.header("access-control-allow-origin") == nil)
        let on = try makeGateway { $0.corsOrigins = ["https://app.example"] }
        let allowed = await get(on, "/v1/instances/a", headers: [("origin", "https://app.example")])
        #expect(allowed.header("access-control-allow-origin") == "https://app.example")
        let other = await get(on, "/v1/instances/a", headers: [("origin", "https://evil.example")])
        #expect(other.header("access-control-allow-origin") == nil)
        let preflight = await on.handleHTTP(GatewayHTTPRequest(method: "OPTIONS", target: "/v1/instances/a", headers: [
            ("origin", "https://app.example"), ("access-control-request-method", "GET")]))
        #expect(preflight.status == 204)
        #expect(preflight.header("access-control-allow-headers")?.contains("authorization") == true)
    }
}

@Suite struct GRPCProxyTests {
    let identity = TestIdentity()

    func gateway() throws -> Gateway {
        var configuration = Gateway.Configuration()
        configuration.accessLog = false
        configuration.internalMethods.insert("/gatewaytest.v1.Instances/DeleteInstance")
        let authenticator = IdentityAuthenticator(transport: LoopbackTransport(identity.methods)) { TestIdentity.servicePrincipal }
        return try Gateway(configuration: configuration, descriptors: Fixtures.descriptors,
                           upstreams: ["gatewaytest.v1.Instances": LoopbackTransport(TestInstances.methods)],
                           authenticator: authenticator, limits: GatewayRateLimits(perKey: nil, perIP: nil))
    }

    func call(_ gateway: Gateway, metadata: Metadata, deadline: ContinuousClock.Instant? = nil) async throws -> (JSONValue, ServerContext) {
        let service = try #require(gateway.proxyServices().first)
        let method = try #require(service.methods.first { $0.descriptor.method == "GetInstance" })
        guard case .unary(let handler) = method.handler else { throw RPCError(.internal, "not unary") }
        let context = ServerContext(method: method.descriptor, metadata: metadata, deadline: deadline, peer: "127.0.0.1:7")
        let request = try Fixtures.transcoder.protobuf(fromJSON: .object(["id": .string("g")]), messageType: "gatewaytest.v1.GetInstanceRequest")
        let response = try await handler(request, context)
        return (try Fixtures.transcoder.json(fromProtobuf: response, messageType: Fixtures.instance), context)
    }

    @Test func forwardsBytesWithSignedPrincipalAndStripsClientClaims() async throws {
        var metadata = Metadata()
        metadata.add("authorization", "Bearer nmb_good_secret")
        metadata.add("x-nimbus-principal-bin", binary: Array("forged".utf8))
        metadata.add("x-custom", "kept")
        let (json, context) = try await call(try gateway(), metadata: metadata, deadline: .now + .seconds(5))
        #expect(json["labels"]?["principal"] == .string("signed:u-1"))
        #expect(json["labels"]?["apiKey"] == .string(""))
        #expect(json["labels"]?["custom"] == .string("kept"))
        #expect(json["labels"]?["hasDeadline"] == .string("yes"))
        #expect(context.responseHeaders["x-upstream"] == "yes")
        #expect(context.responseHeaders["x-request-id"] != nil)
    }

    @Test func unauthenticatedCallsAreRefused() async throws {
        await #expect { try await call(try gateway(), metadata: [:]) } throws: { error in
            (error as? RPCError)?.code == .unauthenticated
        }
        var bad = Metadata()
        bad.add("authorization", "Bearer nmb_nope")
        await #expect { try await call(try gateway(), metadata: bad) } throws: { error in
            (error as? RPCError)?.code == .unauthenticated
        }
    }

    @Test func expiredDeadlineIsNotForwarded() async throws {
        var metadata = Metadata()
        metadata.add("authorization", "Bearer nmb_good_secret")
        await #expect { try await call(try gateway(), metadata: metadata, deadline: .now - .seconds(1)) } throws: { error in
            (error as? RPCError)?.code == .deadlineExceeded
        }
    }

    @Test func internalMethodsAreNotExposed() throws {
        let methods = try gateway().proxyServices().first?.methods.map(\.descriptor.method) ?? []
        #expect(methods.contains("GetInstance"))
        #expect(!methods.contains("DeleteInstance"))
    }
}

/// Fails the first `failures` calls with UNAVAILABLE, as a channel does when the replica it
/// picked died under the call.
final class FlakyTransport: RPCClientTransport {
    let inner: LoopbackTransport
    let remaining: Mutex<Int>
    let calls = Mutex(0)

    init(_ inner: LoopbackTransport, failures: Int) {
        self.inner = inner
        remaining = Mutex(failures)
    }

    func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        calls.withLock { $0 += 1 }
        if remaining.withLock({ r in defer { r -= 1 }; return r > 0 }) {
            throw RPCError(.unavailable, "the connection to the server was lost")
        }
        return try await inner.unary(method, request: request, options: options)
    }

    func streaming<Result: Sendable>(_ method: MethodDescriptor, options: CallOptions,
                                     requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
                                     responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result) async throws -> Result {
        try await inner.streaming(method, options: options, requests: requests, responses: responses)
    }
}

@Suite struct UpstreamRetryTests {
    @Test func readsAndAuthenticationAreRetriedOnceOnALostConnection() async throws {
        let identity = TestIdentity()
        let identityTransport = FlakyTransport(LoopbackTransport(identity.methods), failures: 1)
        let instances = FlakyTransport(LoopbackTransport(TestInstances.methods), failures: 1)
        var configuration = Gateway.Configuration()
        configuration.accessLog = false
        let gateway = try Gateway(configuration: configuration, descriptors: Fixtures.descriptors,
                                  upstreams: ["gatewaytest.v1.Instances": instances],
                                  authenticator: IdentityAuthenticator(transport: identityTransport) { TestIdentity.servicePrincipal },
                                  limits: GatewayRateLimits(perKey: nil, perIP: nil))
        let response = await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: "/v1/instances/r",
                                                                   headers: [("authorization", "Bearer nmb_good_secret")]))
        #expect(response.status == 200)
        #expect(identityTransport.calls.withLock { $0 } == 2)
        #expect(instances.calls.withLock { $0 } == 2)
    }

    @Test func writesAreNeverSentTwice() {
        let configuration = Gateway.Configuration()
        #expect(configuration.isSafeToRetry(MethodDescriptor(service: "s", method: "GetInstance", kind: .unary)))
        #expect(!configuration.isSafeToRetry(MethodDescriptor(service: "s", method: "LaunchInstance", kind: .unary)))
        #expect(!configuration.isSafeToRetry(MethodDescriptor(service: "s", method: "ListLogs", kind: .serverStreaming)))
    }
}
