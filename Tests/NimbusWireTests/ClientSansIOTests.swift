@testable import NimbusGRPC
import NimbusHTTP
import NimbusRPCCore
import Testing

@Suite("Client wire format")
struct ClientWireFormatTests {
    @Test func metadataLeavesOutReservedHeadersAndDecodesBin() {
        let metadata = ClientWireFormat.metadata(from: [
            (":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0"),
            ("x-trace", "abc"), ("x-blob-bin", GRPCBase64.encode([0, 255, 7])),
        ])
        #expect(metadata["x-trace"] == "abc")
        #expect(metadata.binary("x-blob-bin") == [0, 255, 7])
        #expect(metadata.entries.count == 2)
    }

    @Test func requestMetadataSkipsTransportOwnedNames() {
        var metadata = Metadata()
        metadata.add("x-a", "1")
        metadata.add("content-type", "text/plain")
        metadata.add("grpc-timeout", "1S")
        metadata.add("x-b-bin", binary: [1, 2])
        let fields = ClientWireFormat.headers(from: metadata)
        #expect(fields.map(\.name) == ["x-a", "x-b-bin"])
        #expect(fields.last?.value == GRPCBase64.encode([1, 2]))
    }
}

@Suite("Client call state machine")
struct ClientCallStateMachineTests {
    let okHeaders = [HTTP2ClientHeader(":status", "200"), HTTP2ClientHeader("content-type", "application/grpc"),
                     HTTP2ClientHeader("x-initial", "yes")]

    @Test func headersMessagesTrailers() {
        var machine = ClientCallStateMachine(maxMessageSize: 1 << 20)
        #expect(machine.receiveHeaders(okHeaders, endStream: false) == .none)
        #expect(machine.initialMetadata["x-initial"] == "yes")
        let framed = ClientWireFormat.frame([1, 2]) + ClientWireFormat.frame([3])
        #expect(machine.receiveData(Array(framed.prefix(4))) == .none)
        #expect(machine.receiveData(Array(framed.dropFirst(4))) == .deliver([[1, 2], [3]]))
        let action = machine.receiveHeaders([HTTP2ClientHeader("grpc-status", "0"), HTTP2ClientHeader("x-trailer", "t")], endStream: true)
        #expect(action == .finish(code: .ok, message: "", trailers: ["x-trailer": "t"], retryable: false, resetStream: false))
        #expect(machine.isFinished)
    }

    @Test func trailersOnlyErrorWithPercentEncodedMessage() {
        var machine = ClientCallStateMachine(maxMessageSize: 1 << 20)
        let action = machine.receiveHeaders([
            HTTP2ClientHeader(":status", "200"), HTTP2ClientHeader("content-type", "application/grpc"),
            HTTP2ClientHeader("grpc-status", "12"), HTTP2ClientHeader("grpc-message", "Method%20not%20found!"),
        ], endStream: true)
        #expect(action == .finish(code: .unimplemented, message: "Method not found!", trailers: [:], retryable: false, resetStream: false))
    }

    @Test func missingGrpcStatusIsUnknown() {
        var machine = ClientCallStateMachine(maxMessageSize: 1 << 20)
        _ = machine.receiveHeaders(okHeaders, endStream: false)
        guard case .finish(let code, _, _, _, _) = machine.receiveHeaders([HTTP2ClientHeader("x", "y")], endStream: true) else {
            Issue.record("expected the call to finish"); return
        }
        #expect(code == .unknown)
    }

    @Test func oversizeResponseIsResourceExhaustedAndResetsTheStream() {
        var machine = ClientCallStateMachine(maxMessageSize: 4)
        _ = machine.receiveHeaders(okHeaders, endStream: false)
        guard case .finish(let code, _, _, _, let reset) = machine.receiveData(ClientWireFormat.frame([1, 2, 3, 4, 5])) else {
            Issue.record("expected the call to finish"); return
        }
        #expect(code == .resourceExhausted)
        #expect(reset)
        #expect(machine.receiveData([0]) == .none)  // nothing after the end
    }

    @Test(arguments: [(404, RPCCode.unimplemented), (503, .unavailable), (401, .unauthenticated), (500, .unknown)])
    func nonGrpcHTTPStatusMapsToCode(status: Int, code: RPCCode) {
        var machine = ClientCallStateMachine(maxMessageSize: 10)
        guard case .finish(let got, _, _, _, _) = machine.receiveHeaders([HTTP2ClientHeader(":status", "\(status)")], endStream: true) else {
            Issue.record("expected the call to finish"); return
        }
        #expect(got == code)
    }

    @Test func refusedStreamIsRetryableUnavailable() {
        var machine = ClientCallStateMachine(maxMessageSize: 10)
        guard case .finish(let code, _, _, let retryable, _) = machine.streamClosed(.refusedStream) else {
            Issue.record("expected the call to finish"); return
        }
        #expect(code == .unavailable)
        #expect(retryable)
    }

    @Test func endOfDataWithoutTrailersIsInternal() {
        var machine = ClientCallStateMachine(maxMessageSize: 10)
        _ = machine.receiveHeaders(okHeaders, endStream: false)
        guard case .finish(let code, _, _, _, _) = machine.receiveEndOfData() else { Issue.record("expected the call to finish"); return }
        #expect(code == .internal)
    }

    @Test func wrongContentTypeFails() {
        var machine = ClientCallStateMachine(maxMessageSize: 10)
        guard case .finish(let code, _, _, _, let reset) = machine.receiveHeaders(
            [HTTP2ClientHeader(":status", "200"), HTTP2ClientHeader("content-type", "text/html")], endStream: false) else {
            Issue.record("expected the call to finish"); return
        }
        #expect(code == .unknown)
        #expect(reset)
    }
}

@Suite("Client backoff, endpoints and load balancing")
struct ClientLoadBalancingTests {
    @Test func backoffGrowsToTheCapWithBoundedJitter() {
        let backoff = ClientBackoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0.2)
        #expect(backoff.delay(afterFailures: 0, unitRandom: 0.5) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 1, unitRandom: 0.5) == .milliseconds(200))
        #expect(backoff.delay(afterFailures: 3, unitRandom: 0.5) == .milliseconds(800))
        #expect(backoff.delay(afterFailures: 10, unitRandom: 0.5) == .seconds(1))
        #expect(backoff.delay(afterFailures: 10, unitRandom: 0) == .milliseconds(800))
        let high = backoff.delay(afterFailures: 10, unitRandom: 0.999_999)
        #expect(high > .milliseconds(1199) && high <= .milliseconds(1200))
    }

    @Test func endpointListParsing() throws {
        let endpoints = try ClientEndpoint.parseList("127.0.0.1:7001, localhost:7002,[::1]:7003")
        #expect(endpoints == [ClientEndpoint(host: "127.0.0.1", port: 7001), ClientEndpoint(host: "localhost", port: 7002),
                              ClientEndpoint(host: "::1", port: 7003)])
        #expect(endpoints[2].description == "[::1]:7003")
        #expect(throws: ClientConfigurationError.self) { try ClientEndpoint.parseList("") }
        #expect(throws: ClientConfigurationError.self) { try ClientEndpoint(parsing: "host:99999") }
        #expect(throws: ClientConfigurationError.self) { try ClientEndpoint(parsing: "::1:80") }
        #expect(throws: ClientConfigurationError.self) { try ClientEndpoint(parsing: "nohost") }
    }

    @Test func roundRobinOverHealthyEndpoints() {
        var balancer = ClientLoadBalancer(endpointCount: 3, policy: .init())
        let now = ContinuousClock.now
        let picks = (0..<6).map { _ in balancer.pick(now: now).index }
        #expect(picks == [0, 1, 2, 0, 1, 2])
    }

    @Test func endpointThatKeepsFailingIsEjectedThenReturns() {
        var policy = ClientLoadBalancer.Policy()
        policy.ejectAfterFailures = 2
        policy.ejectionCoolDown = .seconds(5)
        var balancer = ClientLoadBalancer(endpointCount: 2, policy: policy)
        let now = ContinuousClock.now
        balancer.recordFailure(1, now: now)
        #expect(!balancer.isEjected(1, now: now))
        balancer.recordFailure(1, now: now)
        #expect(balancer.isEjected(1, now: now))
        #expect((0..<4).map { _ in balancer.pick(now: now).index } == [0, 0, 0, 0])
        // After the cool-down it takes calls again.
        let later = now + .seconds(6)
        #expect(Set((0..<4).map { _ in balancer.pick(now: later).index }) == [0, 1])
        // A second ejection in a row lasts twice as long.
        balancer.recordFailure(1, now: later)
        balancer.recordFailure(1, now: later)
        #expect(balancer.isEjected(1, now: later + .seconds(9)))
        #expect(!balancer.isEjected(1, now: later + .seconds(11)))
    }

    @Test func allEjectedIgnoresEjectionAndWaitsOnlyForBackoff() {
        var policy = ClientLoadBalancer.Policy()
        policy.ejectAfterFailures = 1
        policy.backoff = ClientBackoff(initial: .seconds(1), maximum: .seconds(10), multiplier: 2, jitter: 0)
        var balancer = ClientLoadBalancer(endpointCount: 2, policy: policy)
        let now = ContinuousClock.now
        balancer.recordFailure(0, now: now)
        balancer.recordFailure(1, now: now)
        // Both ejected, neither backing off: calls still go round-robin, at once.
        let picks = (0..<4).map { _ in balancer.pick(now: now + .milliseconds(10)) }
        #expect(picks.map(\.index) == [0, 1, 0, 1])
        #expect(picks.allSatisfy { $0.notBefore == nil })
        // Both backing off: the one whose backoff ends first, and when.
        balancer.recordConnectFailure(0, now: now, unitRandom: 0.5)
        balancer.recordConnectFailure(1, now: now, unitRandom: 0.5)
        balancer.recordConnectFailure(1, now: now, unitRandom: 0.5)
        let pick = balancer.pick(now: now + .milliseconds(10))
        #expect(pick.index == 0)
        #expect(pick.notBefore == now + .seconds(1))
    }

    @Test func connectBackoffSkipsEndpointUntilItElapses() {
        var policy = ClientLoadBalancer.Policy()
        policy.ejectAfterFailures = 100
        policy.backoff = ClientBackoff(initial: .seconds(1), maximum: .seconds(10), multiplier: 2, jitter: 0)
        var balancer = ClientLoadBalancer(endpointCount: 2, policy: policy)
        let now = ContinuousClock.now
        balancer.recordConnectFailure(0, now: now, unitRandom: 0.5)
        #expect(!balancer.mayConnect(0, now: now + .milliseconds(500)))
        #expect(balancer.pick(now: now + .milliseconds(500)).index == 1)
        #expect(balancer.pick(now: now + .milliseconds(500)).index == 1)
        balancer.recordConnectFailure(0, now: now + .seconds(1), unitRandom: 0.5)
        #expect(!balancer.mayConnect(0, now: now + .milliseconds(2900)))
        #expect(balancer.mayConnect(0, now: now + .seconds(3)))
        balancer.recordConnected(0)
        #expect(balancer.mayConnect(0, now: now + .seconds(3)))
    }

    @Test func retryAvoidsTheEndpointThatJustFailed() {
        var balancer = ClientLoadBalancer(endpointCount: 2, policy: .init())
        let now = ContinuousClock.now
        let first = balancer.pick(now: now).index
        let second = balancer.pick(now: now, excluding: [first]).index
        #expect(first != second)
        // With a single endpoint the retry goes back to it.
        var single = ClientLoadBalancer(endpointCount: 1, policy: .init())
        #expect(single.pick(now: now, excluding: [0]).index == 0)
    }
}

@Suite("Client method descriptors from paths")
struct ClientMethodDescriptorTests {
    @Test func runtimeDescriptorFromPath() throws {
        let method = try #require(MethodDescriptor(grpcPath: "/nimbus.identity.v1.Users/CreateUser"))
        #expect(method.service == "nimbus.identity.v1.Users")
        #expect(method.method == "CreateUser")
        #expect(method.path == "/nimbus.identity.v1.Users/CreateUser")
        for bad in ["", "/", "Users/Create", "/Users", "/Users/", "//Create", "/a/b/c", "/a b/c"] {
            #expect(MethodDescriptor(grpcPath: bad) == nil, "\(bad)")
        }
    }
}

@Suite("Client metadata validation")
struct ClientMetadataValidationTests {
    @Test func invalidMetadataIsRefusedBeforeSending() throws {
        var good = Metadata()
        good.add("x-request-id", "abc-123")
        good.add("x-blob-bin", binary: [0, 10, 13, 255])
        try GRPCChannel.validate(good)

        var newline = Metadata()
        newline.add("x-evil", "a\r\nset-cookie: b")
        #expect(throws: RPCError.self) { try GRPCChannel.validate(newline) }
        var space = Metadata()
        space.add("bad key", "v")
        #expect(throws: RPCError.self) { try GRPCChannel.validate(space) }
        var unicode = Metadata()
        unicode.add("x-name", "café")
        #expect(throws: RPCError.self) { try GRPCChannel.validate(unicode) }
    }

    @Test func channelRefusesInvalidMetadataWithoutConnecting() async throws {
        // Nothing listens on this endpoint: the refusal must come before any connect attempt.
        let channel = try GRPCChannel(endpoints: "127.0.0.1:1")
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-evil", "line\nbreak")
        let error = await expectRPCError(.internal) {
            _ = try await channel.unary(MethodDescriptor(service: "a.B", method: "C", kind: .unary), request: [],
                                        options: CallOptions(metadata: metadata))
        }
        #expect(error?.message.contains("x-evil") == true)
    }
}
