import Foundation
import NimbusGRPC
import NimbusRPCCore
import Testing

enum ClientTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case h2c, tls
    var testDescription: String { rawValue }
}

/// One grpcio server per transport, shared by the tests that do not restart it.
enum SharedEchoServers {
    static let h2c = Result { try PythonEchoServer.start() }
    static let tls = Result { try PythonEchoServer.start(.init(tlsDirectory: PythonEchoServer.makeTLSDirectory())) }

    static func server(_ transport: ClientTransport) throws -> PythonEchoServer {
        try (transport == .h2c ? h2c : tls).get()
    }

    static func channel(_ transport: ClientTransport, _ configure: (inout GRPCChannel.Configuration) -> Void = { _ in }) throws -> GRPCChannel {
        try channel(to: [server(transport)], transport, configure)
    }

    static func channel(to servers: [PythonEchoServer], _ transport: ClientTransport,
                        _ configure: (inout GRPCChannel.Configuration) -> Void = { _ in }) throws -> GRPCChannel {
        let endpoints = servers.map { ClientEndpoint(host: "127.0.0.1", port: $0.port) }
        var configuration = GRPCChannel.Configuration(endpoints: endpoints)
        if transport == .tls {
            configuration.tls = GRPCChannel.TLS(caFile: servers[0].certificatePath, serverName: "localhost")
        }
        configure(&configuration)
        return try GRPCChannel(configuration: configuration)
    }
}

extension GRPCChannel {
    func say(_ request: EchoRequest, options: CallOptions = CallOptions()) async throws -> (EchoResponse, RPCResponse<[UInt8]>) {
        let response = try await unary(EchoWire.say, request: request.encoded(), options: options)
        return (try EchoResponse(decoding: response.message), response)
    }

    /// What the server handler of the call tagged `tag` observed.
    func observed(_ tag: String) async throws -> String {
        try await say(EchoRequest(text: "query:\(tag)")).0.text
    }
}

func expectRPCError(_ code: RPCCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        Issue.record("expected \(code), the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

@Suite("Client against a Python grpcio server", .serialized, .enabled(if: PythonEchoServer.available, "needs .venv (scripts/install-deps.sh)"))
struct ClientInteropTests {
    @Test(arguments: ClientTransport.allCases)
    func unary(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let (response, _) = try await channel.say(EchoRequest(text: "hello", payload: [1, 2, 3]))
        #expect(response == EchoResponse(text: "hello", payload: [1, 2, 3]))
    }

    @Test(arguments: ClientTransport.allCases)
    func serverStreaming(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let request = EchoRequest(text: "many", repeatCount: 25).encoded()
        let responses = try await channel.streaming(EchoWire.expand, options: CallOptions()) { writer in
            try await writer.write(request)
        } responses: { stream in
            var all: [EchoResponse] = []
            for try await message in stream { all.append(try EchoResponse(decoding: message)) }
            return all
        }
        #expect(responses.map(\.index) == Array(0..<25))
        #expect(responses.allSatisfy { $0.text == "many" })
    }

    @Test(arguments: ClientTransport.allCases)
    func clientStreaming(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let response = try await channel.streaming(EchoWire.collect, options: CallOptions()) { writer in
            for text in ["a", "b", "c", "d"] { try await writer.write(EchoRequest(text: text, payload: [0, 0]).encoded()) }
        } responses: { stream in
            var all: [EchoResponse] = []
            for try await message in stream { all.append(try EchoResponse(decoding: message)) }
            return all
        }
        #expect(response.count == 1)
        #expect(response.first?.text == "a,b,c,d")
        #expect(response.first?.index == 4)
    }

    @Test(arguments: ClientTransport.allCases)
    func bidirectionalStreamingInterleaves(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        // Each request is written only after the previous answer arrived: proves true interleaving.
        let (gate, gateInput) = AsyncStream<Void>.makeStream()
        let texts = (0..<20).map { "m\($0)" }
        let answers = try await channel.streaming(EchoWire.chat, options: CallOptions()) { writer in
            var iterator = gate.makeAsyncIterator()
            for text in texts {
                try await writer.write(EchoRequest(text: text).encoded())
                _ = await iterator.next()
            }
        } responses: { stream in
            var all: [String] = []
            for try await message in stream {
                all.append(try EchoResponse(decoding: message).text)
                gateInput.yield()
            }
            return all
        }
        #expect(answers == texts)
    }

    @Test(arguments: ClientTransport.allCases)
    func threeMebibyteMessageBothWays(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let (response, _) = try await channel.say(EchoRequest(text: "big", payload: payload))
        #expect(response.payload.count == payload.count)
        #expect(response.payload == payload)
    }

    @Test(arguments: ClientTransport.allCases)
    func overLimitMessagesAreResourceExhausted(_ transport: ClientTransport) async throws {
        // Request over the server's 4 MiB limit (our own send limit raised so it leaves).
        let channel = try SharedEchoServers.channel(transport) { $0.maxSendMessageSize = 8 << 20 }
        defer { channel.close() }
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await channel.say(EchoRequest(payload: [UInt8](repeating: 7, count: 5 << 20)))
        }
        // Response over our receive limit: refused from its prefix.
        let small = try SharedEchoServers.channel(transport) { $0.maxReceiveMessageSize = 1 << 20 }
        defer { small.close() }
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await small.say(EchoRequest(payload: [UInt8](repeating: 7, count: 2 << 20)))
        }
        // Our own send limit: refused locally.
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await small.say(EchoRequest(payload: [UInt8](repeating: 7, count: 5 << 20)))
        }
        // The channel still works afterwards.
        #expect(try await small.say(EchoRequest(text: "after")).0.text == "after")
    }

    @Test(arguments: ClientTransport.allCases)
    func unknownMethodIsUnimplemented(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        // A descriptor made at run time from a path, as the gateway's pass-through does.
        let method = try #require(MethodDescriptor(grpcPath: "/nimbus.testing.v1.Echo/NoSuchMethod"))
        _ = await expectRPCError(.unimplemented) {
            _ = try await channel.unary(method, request: [], options: CallOptions())
        }
    }

    @Test(arguments: ClientTransport.allCases)
    func errorStatusAndPercentEncodedMessage(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let error = await expectRPCError(.notFound) {
            _ = try await channel.say(EchoRequest(failWithCode: 5, failWithMessage: "no bucket 'ünï' at 100% / here"))
        }
        #expect(error?.message == "no bucket 'ünï' at 100% / here")
    }

    @Test(arguments: ClientTransport.allCases)
    func deadlineExpiresInTheHandler(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let tag = "deadline-\(transport)-\(UUID().uuidString.prefix(8))"
        let started = ContinuousClock.now
        _ = await expectRPCError(.deadlineExceeded) {
            _ = try await channel.say(EchoRequest(text: "tag:\(tag)", delayMs: 5000), options: CallOptions(timeout: .milliseconds(300)))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        // The server got the deadline (grpc-timeout) and its handler saw the call end.
        var seen = "unknown"
        for _ in 0..<100 where seen == "unknown" {
            seen = try await channel.observed(tag)
            if seen == "unknown" { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(seen == "deadline" || seen == "cancelled", "handler observed \(seen)")
        let (_, response) = try await channel.say(EchoRequest(text: "x"), options: CallOptions(timeout: .seconds(20)))
        let remaining = Int(response.initialMetadata["x-time-remaining"] ?? "") ?? -1
        #expect(remaining > 15_000 && remaining <= 20_000)
    }

    @Test(arguments: ClientTransport.allCases)
    func clientCancellationReachesTheHandler(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let tag = "cancel-\(transport)-\(UUID().uuidString.prefix(8))"
        let call = Task {
            try await channel.say(EchoRequest(text: "tag:\(tag)", delayMs: 10_000))
        }
        try await Task.sleep(for: .milliseconds(400))
        call.cancel()
        _ = await expectRPCError(.cancelled) { _ = try await call.value }
        var seen = "unknown"
        for _ in 0..<100 where seen == "unknown" {
            seen = try await channel.observed(tag)
            if seen == "unknown" { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(seen == "cancelled")
    }

    @Test(arguments: ClientTransport.allCases)
    func metadataEchoIncludingBinary(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-text", "hello world")
        metadata.add("x-blob-bin", binary: [0, 1, 2, 254, 255])
        let (_, response) = try await channel.say(EchoRequest(text: "m"), options: CallOptions(metadata: metadata))
        #expect(response.initialMetadata["x-text"] == "hello world")
        #expect(response.initialMetadata.binary("x-blob-bin") == [0, 1, 2, 254, 255])
        #expect(response.trailingMetadata["x-text"] == "hello world")
        #expect(response.trailingMetadata.binary("x-blob-bin") == [0, 1, 2, 254, 255])
    }

    @Test(arguments: ClientTransport.allCases)
    func thousandConcurrentCallsOnOneChannel(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<1000 {
                group.addTask { try await channel.say(EchoRequest(text: "c\(i)")).0.text }
            }
            var all: Set<String> = []
            for try await text in group { all.insert(text) }
            return all
        }
        #expect(texts.count == 1000)
        #expect(texts.contains("c0") && texts.contains("c999"))
        // Multiplexed: a handful of connections, not one per call.
        #expect(channel.connectionCount >= 1 && channel.connectionCount <= channel.configuration.connectionsPerEndpoint)
    }
}
