import Foundation
import NimbusGRPC
import NimbusHTTP
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// A small Echo service for the Nimbus server in this process.
private struct LocalEcho: TestingV1.EchoService {
    func say(_ request: TestingV1.EchoRequest, context: ServerContext) async throws -> TestingV1.EchoResponse {
        if request.delayMs > 0 { try await Task.sleep(for: .milliseconds(Int(request.delayMs))) }
        return TestingV1.EchoResponse(text: request.text, payload: request.payload)
    }

    func expand(_ request: TestingV1.EchoRequest, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {
        if let tag = context.metadata["x-tag"] {
            context.addResponseHeader("x-tag-head", value: .string(tag))
            context.addTrailer("x-tag-tail", value: .string(tag))
        }
        for i in 0..<Int(request.repeat) { try await responses.write(TestingV1.EchoResponse(text: request.text, index: Int32(i), payload: request.payload)) }
    }

    func collect(_ requests: RPCMessageStream<TestingV1.EchoRequest>, context: ServerContext) async throws -> TestingV1.EchoResponse {
        var count: Int32 = 0
        var bytes = 0
        for try await request in requests {
            count += 1
            bytes += request.payload.count
        }
        return TestingV1.EchoResponse(text: "\(bytes)", index: count)
    }

    func chat(_ requests: RPCMessageStream<TestingV1.EchoRequest>, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {
        for try await request in requests { try await responses.write(TestingV1.EchoResponse(text: request.text)) }
    }
}

/// The client against Nimbus's own server: the two halves of the transport together.
@Suite("Client against the Nimbus gRPC server", .serialized)
struct ClientNimbusServerTests {
    static func startServer(port: Int = 0) async throws -> GRPCServer {
        var configuration = GRPCServerConfiguration(port: port)
        configuration.accessLog = false
        let server = try GRPCServer(configuration: configuration, services: [LocalEcho()])
        try await server.start()
        return server
    }

    @Test func serverGracefulShutdownDrainsThenChannelReconnects() async throws {
        let first = try await Self.startServer()
        let port = first.port
        var configuration = GRPCChannel.Configuration(endpoints: [ClientEndpoint(host: "127.0.0.1", port: port)])
        configuration.backoff = ClientBackoff(initial: .milliseconds(50), maximum: .milliseconds(300))
        let channel = try GRPCChannel(configuration: configuration)
        defer { channel.close() }
        let echo = TestingV1.EchoClient(transport: channel)
        #expect(try await echo.say(TestingV1.EchoRequest(text: "warm")).text == "warm")

        // A call in flight while the server says GOAWAY finishes normally.
        let slow = Task { try await echo.say(TestingV1.EchoRequest(text: "slow", delayMs: 400)) }
        try await Task.sleep(for: .milliseconds(100))
        await first.shutdown(gracePeriod: .seconds(5))
        #expect(try await slow.value.text == "slow")

        let second = try await Self.startServer(port: port)
        defer { Task { await second.shutdown(gracePeriod: .seconds(1)) } }
        #expect(try await echo.say(TestingV1.EchoRequest(text: "again")).text == "again")
    }

    @Test func proxyStreamingHandsOverResponseHeadersAndTrailers() async throws {
        let server = try await Self.startServer()
        let channel = try GRPCChannel(configuration: .init(endpoints: [ClientEndpoint(host: "127.0.0.1", port: server.port)]))
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-tag", "t1")
        let request = TestingV1.EchoRequest(text: "p", repeat: 3).serializedBytes()
        let (result, trailers) = try await channel.proxyStreaming(
            TestingV1.EchoMethods.expand, options: CallOptions(metadata: metadata),
            requests: { try await $0.write(request) },
            responses: { messages, headers in
                let head = await headers()
                var count = 0
                for try await _ in messages { count += 1 }
                return (head["x-tag-head"], count)
            })
        #expect(result.0 == "t1")
        #expect(result.1 == 3)
        #expect(trailers["x-tag-tail"] == "t1")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func keepaliveKeepsAHealthyConnection() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        var configuration = GRPCChannel.Configuration(endpoints: [ClientEndpoint(host: "127.0.0.1", port: server.port)])
        configuration.keepalive = GRPCChannel.Keepalive(interval: .milliseconds(50), timeout: .milliseconds(500))
        let channel = try GRPCChannel(configuration: configuration)
        defer { channel.close() }
        // A dozen PINGs go out during the call; every one is answered, nothing is torn down.
        let echo = TestingV1.EchoClient(transport: channel)
        #expect(try await echo.say(TestingV1.EchoRequest(text: "pinged", delayMs: 700)).text == "pinged")
        #expect(try await echo.say(TestingV1.EchoRequest(text: "same connection")).text == "same connection")
        #expect(channel.connectionCount == 1)
    }

    @Test func requestStreamingLargerThanEveryWindow() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { channel.close() }
        // 24 MiB in 64 KiB messages: the writer has to wait for WINDOW_UPDATEs many times.
        let chunk = Data(repeating: 9, count: 64 << 10)
        let response = try await TestingV1.EchoClient(transport: channel).collect { writer in
            for _ in 0..<384 { try await writer.write(TestingV1.EchoRequest(payload: chunk)) }
        }
        #expect(response.index == 384)
        #expect(response.text == "\(384 * (64 << 10))")
    }

    @Test func channelShutdownLetsOpenCallsFinishAndCloseFailsTheRest() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        let echo = TestingV1.EchoClient(transport: channel)
        let slow = Task { try await echo.say(TestingV1.EchoRequest(text: "drain", delayMs: 300)) }
        try await Task.sleep(for: .milliseconds(100))
        await channel.shutdown(timeout: .seconds(5))
        #expect(try await slow.value.text == "drain")
        _ = await expectRPCError(.unavailable) { _ = try await echo.say(TestingV1.EchoRequest(text: "late")) }

        let other = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        let otherEcho = TestingV1.EchoClient(transport: other)
        let cut = Task { try await otherEcho.say(TestingV1.EchoRequest(text: "cut", delayMs: 2000)) }
        try await Task.sleep(for: .milliseconds(200))
        other.close()
        _ = await expectRPCError(.unavailable) { _ = try await cut.value }
        // The server outlives a client that vanished mid-call (its handler finishes into a closed stream).
        try await Task.sleep(for: .milliseconds(2200))
        let fresh = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { fresh.close() }
        #expect(try await TestingV1.EchoClient(transport: fresh).say(TestingV1.EchoRequest(text: "alive")).text == "alive")
    }

    @Test func channelOnTheServersLoopsStaysOnTheCallersLoop() async throws {
        let upstream = try await Self.startServer()
        defer { Task { await upstream.shutdown(gracePeriod: .seconds(1)) } }
        // A "gateway" server whose loops the channel shares.
        var gatewayConfiguration = GRPCServerConfiguration(port: 0, threads: 2)
        gatewayConfiguration.accessLog = false
        let gateway = try GRPCServer(configuration: gatewayConfiguration, services: [LocalEcho()])
        try await gateway.start()
        defer { Task { await gateway.shutdown(gracePeriod: .seconds(1)) } }
        var configuration = GRPCChannel.Configuration(endpoints: [ClientEndpoint(host: "127.0.0.1", port: upstream.port)])
        configuration.connectionsPerEndpoint = 2
        let channel = try GRPCChannel(configuration: configuration, loops: gateway.loops)
        defer { channel.close() }
        let echo = TestingV1.EchoClient(transport: channel)
        for loop in gateway.loops {
            let texts = try await Task(executorPreference: loop) {
                var texts: [String] = []
                for i in 0..<20 { texts.append(try await echo.say(TestingV1.EchoRequest(text: "l\(i)")).text) }
                return texts
            }.value
            #expect(texts == (0..<20).map { "l\($0)" })
        }
        // One connection per calling loop, not more.
        #expect(channel.connectionCount == 2)
        // close() leaves loops it does not own running: the gateway still serves.
        channel.close()
        let direct = try GRPCChannel(endpoints: "127.0.0.1:\(gateway.port)")
        defer { direct.close() }
        #expect(try await TestingV1.EchoClient(transport: direct).say(TestingV1.EchoRequest(text: "up")).text == "up")
    }
}

/// Peers that accept TCP and then say nothing: the call's deadline still holds.
@Suite("Client deadlines against a silent peer")
struct ClientSilentPeerTests {
    @Test(arguments: ClientTransport.allCases)
    func deadlineHoldsWhileConnectingOrWaiting(_ transport: ClientTransport) async throws {
        // Listening but never accepting: TCP completes in the backlog, nothing else ever comes.
        let listener = try Socket.listen(on: SocketAddress(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let port = try listener.localAddress().port
        var configuration = GRPCChannel.Configuration(endpoints: [ClientEndpoint(host: "127.0.0.1", port: port)])
        if transport == .tls { configuration.tls = GRPCChannel.TLS(serverName: "localhost") }
        configuration.connectTimeout = .seconds(20)
        let channel = try GRPCChannel(configuration: configuration)
        defer { channel.close() }
        let started = ContinuousClock.now
        _ = await expectRPCError(.deadlineExceeded) {
            _ = try await TestingV1.EchoClient(transport: channel).say(TestingV1.EchoRequest(text: "x"), options: CallOptions(timeout: .milliseconds(300)))
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(3), "took \(elapsed)")
    }
}

extension ClientNimbusServerTests {
    /// A unary call buffers its response without holding flow-control credit back, so a
    /// server answering with a stream must end it at the second message, not fill memory
    /// (this stream would run for ~100 GB: buffering it would hit the time limit first).
    @Test(.timeLimit(.minutes(1)))
    func unaryCallToAStreamingAnswerFailsAtTheSecondMessage() async throws {
        let server = try await Self.startServer()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { channel.close() }
        let request = TestingV1.EchoRequest(text: "many", repeat: 100_000_000, payload: Data(repeating: 7, count: 1024))
        let error = await #expect(throws: RPCError.self) {
            _ = try await channel.unary(TestingV1.EchoMethods.expand, request: request.serializedBytes(), options: CallOptions())
        }
        #expect(error?.code == .internal)
        #expect(error?.message.contains("more than one response message") == true)
        // The channel still serves calls.
        #expect(try await TestingV1.EchoClient(transport: channel).say(TestingV1.EchoRequest(text: "after")).text == "after")
    }
}
