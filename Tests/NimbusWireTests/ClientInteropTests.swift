import Foundation
import NimbusGRPC
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

typealias EchoRequest = TestingV1.EchoRequest

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
    /// The generated typed stub over this channel.
    var echo: TestingV1.EchoClient { TestingV1.EchoClient(transport: self) }

    /// What the server handler of the call tagged `tag` observed.
    func observed(_ tag: String) async throws -> String {
        try await echo.say(EchoRequest(text: "query:\(tag)")).text
    }

    /// Polls `observed` until it reports something other than `unknown` (or `until` holds).
    func waitForObservation(_ tag: String, until done: (String) -> Bool = { $0 != "unknown" }) async throws -> String {
        var seen = "unknown"
        for _ in 0..<100 {
            seen = try await observed(tag)
            if done(seen) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return seen
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
        let response = try await channel.echo.say(EchoRequest(text: "hello", payload: Data([1, 2, 3])))
        #expect(response.text == "hello")
        #expect(response.payload == Data([1, 2, 3]))
    }

    @Test(arguments: ClientTransport.allCases)
    func compressedResponsesInflate(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let payload = Data(repeating: 0x6e, count: 200_000)
        for encoding in ["gzip", "deflate"] {
            var metadata = Metadata()
            metadata.add("x-compress", encoding)
            let response = try await channel.echo.sayWithMetadata(EchoRequest(text: encoding, payload: payload), options: CallOptions(metadata: metadata))
            #expect(response.message.text == encoding)
            #expect(response.message.payload == payload)
            let streamed = try await channel.echo.expand(EchoRequest(text: encoding, repeat: 5), options: CallOptions(metadata: metadata))
            #expect(streamed.map(\.index) == Array(0..<5))
        }
    }

    @Test(arguments: ClientTransport.allCases)
    func serverStreaming(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let responses = try await channel.echo.expand(EchoRequest(text: "many", repeat: 25))
        #expect(responses.map(\.index) == Array(0..<25))
        #expect(responses.allSatisfy { $0.text == "many" })
    }

    @Test(arguments: ClientTransport.allCases)
    func clientStreaming(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let response = try await channel.echo.collect(["a", "b", "c", "d"].map { EchoRequest(text: $0, payload: Data([0, 0])) })
        #expect(response.text == "a,b,c,d")
        #expect(response.index == 4)
    }

    @Test(arguments: ClientTransport.allCases)
    func clientStreamingBeyondTheFlowControlWindows(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        // 24 MiB in 64 KiB messages: the writer waits for the server's WINDOW_UPDATEs many times.
        let chunk = Data(repeating: 9, count: 64 << 10)
        let response = try await channel.echo.collect { writer in
            for _ in 0..<384 { try await writer.write(EchoRequest(text: "", payload: chunk)) }
        }
        #expect(response.index == 384)
        #expect(response.payload == Data(withUnsafeBytes(of: UInt64(384 * (64 << 10)).bigEndian, Array.init)))
    }

    @Test(arguments: ClientTransport.allCases)
    func bidirectionalStreamingInterleaves(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        // Each request is written only after the previous answer arrived: proves true interleaving.
        let (gate, gateInput) = AsyncStream<Void>.makeStream()
        let texts = (0..<20).map { "m\($0)" }
        let answers = try await channel.echo.chat { writer in
            var iterator = gate.makeAsyncIterator()
            for text in texts {
                try await writer.write(EchoRequest(text: text))
                _ = await iterator.next()
            }
        } responses: { stream in
            var all: [String] = []
            for try await response in stream {
                all.append(response.text)
                gateInput.yield()
            }
            return all
        }
        #expect(answers == texts)
    }

    @Test(arguments: ClientTransport.allCases)
    func readerThatStopsEarlyEndsTheCall(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        // Three of a thousand, then the handler returns: the call is cancelled, not drained.
        let firstThree = try await channel.echo.expand(EchoRequest(text: "t", repeat: 1000, payload: Data(count: 4096))) { stream in
            var texts: [Int32] = []
            for try await response in stream {
                texts.append(response.index)
                if texts.count == 3 { break }
            }
            return texts
        }
        #expect(firstThree == [0, 1, 2])
        // A request producer still waiting when the call ends is stopped, not awaited forever.
        let (never, _) = AsyncStream<Void>.makeStream()
        let answer = try await channel.echo.chat { writer in
            try await writer.write(EchoRequest(text: "one"))
            for await _ in never {}
        } responses: { stream in
            for try await response in stream { return response.text }
            return ""
        }
        #expect(answer == "one")
        #expect(try await channel.echo.say(EchoRequest(text: "still fine")).text == "still fine")
    }

    @Test(arguments: ClientTransport.allCases)
    func threeMebibyteMessageBothWays(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let payload = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let response = try await channel.echo.say(EchoRequest(text: "big", payload: payload))
        #expect(response.payload.count == payload.count)
        #expect(response.payload == payload)
    }

    @Test(arguments: ClientTransport.allCases)
    func overLimitMessagesAreResourceExhausted(_ transport: ClientTransport) async throws {
        // Request over the server's 4 MiB limit (our own send limit raised so it leaves).
        let channel = try SharedEchoServers.channel(transport) { $0.maxSendMessageSize = 8 << 20 }
        defer { channel.close() }
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await channel.echo.say(EchoRequest(payload: Data(repeating: 7, count: 5 << 20)))
        }
        // Response over our receive limit: refused from its prefix.
        let small = try SharedEchoServers.channel(transport) { $0.maxReceiveMessageSize = 1 << 20 }
        defer { small.close() }
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await small.echo.say(EchoRequest(payload: Data(repeating: 7, count: 2 << 20)))
        }
        // Our own send limit: refused locally.
        _ = await expectRPCError(.resourceExhausted) {
            _ = try await small.echo.say(EchoRequest(payload: Data(repeating: 7, count: 5 << 20)))
        }
        // The channel still works afterwards.
        #expect(try await small.echo.say(EchoRequest(text: "after")).text == "after")
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
        // The byte-level path works for a known method too.
        let say = try #require(MethodDescriptor(grpcPath: "/nimbus.testing.v1.Echo/Say"))
        let bytes = try await channel.unary(say, request: EchoRequest(text: "raw").serializedBytes(), options: CallOptions())
        #expect(try TestingV1.EchoResponse(serializedBytes: bytes.message).text == "raw")
    }

    @Test(arguments: ClientTransport.allCases)
    func errorStatusAndPercentEncodedMessage(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let error = await expectRPCError(.notFound) {
            _ = try await channel.echo.say(EchoRequest(failWithCode: 5, failWithMessage: "no bucket 'ünï' at 100% / here"))
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
            _ = try await channel.echo.say(EchoRequest(text: "tag:\(tag)", delayMs: 5000), options: CallOptions(timeout: .milliseconds(300)))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        // The server got the deadline (grpc-timeout) and its handler saw the call end.
        let seen = try await channel.waitForObservation(tag)
        #expect(seen == "deadline" || seen == "cancelled", "handler observed \(seen)")
        let response = try await channel.echo.sayWithMetadata(EchoRequest(text: "x"), options: CallOptions(timeout: .seconds(20)))
        let remaining = Int(response.initialMetadata["x-time-remaining"] ?? "") ?? -1
        #expect(remaining > 15_000 && remaining <= 20_000)
    }

    @Test(arguments: ClientTransport.allCases)
    func clientCancellationReachesTheHandler(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let tag = "cancel-\(transport)-\(UUID().uuidString.prefix(8))"
        let echo = channel.echo
        let call = Task { try await echo.say(EchoRequest(text: "tag:\(tag)", delayMs: 10_000)) }
        try await Task.sleep(for: .milliseconds(400))
        call.cancel()
        _ = await expectRPCError(.cancelled) { _ = try await call.value }
        #expect(try await channel.waitForObservation(tag) == "cancelled")
    }

    @Test(arguments: ClientTransport.allCases)
    func metadataEchoIncludingBinary(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-text", "hello world")
        metadata.add("x-blob-bin", binary: [0, 1, 2, 254, 255])
        let response = try await channel.echo.sayWithMetadata(EchoRequest(text: "m"), options: CallOptions(metadata: metadata))
        #expect(response.initialMetadata["x-text"] == "hello world")
        #expect(response.initialMetadata.binary("x-blob-bin") == [0, 1, 2, 254, 255])
        #expect(response.trailingMetadata["x-text"] == "hello world")
        #expect(response.trailingMetadata.binary("x-blob-bin") == [0, 1, 2, 254, 255])
    }

    @Test(arguments: ClientTransport.allCases)
    func streamingMetadataForPassThrough(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-text", "through")
        metadata.add("x-blob-bin", binary: [9, 0, 9])
        let method = try #require(MethodDescriptor(grpcPath: "/nimbus.testing.v1.Echo/Expand"))
        let request = EchoRequest(text: "p", repeat: 3).serializedBytes()
        let (seen, trailers) = try await channel.proxyStreaming(method, options: CallOptions(metadata: metadata)) { writer in
            try await writer.write(request)
        } responses: { messages, headers in
            // Headers first, as a proxy must send them on before any message.
            let head = await headers()
            var count = 0
            for try await _ in messages { count += 1 }
            return (head, count)
        }
        #expect(seen.0["x-text"] == "through")
        #expect(seen.0.binary("x-blob-bin") == [9, 0, 9])
        #expect(seen.1 == 3)
        #expect(trailers["x-text"] == "through")
        #expect(trailers.binary("x-blob-bin") == [9, 0, 9])

        // A failure carries its trailers in the error; the headers wait ends (empty, Trailers-Only).
        let failing = EchoRequest(failWithCode: 9, failWithMessage: "nope").serializedBytes()
        let error = await expectRPCError(.failedPrecondition) {
            _ = try await channel.proxyStreaming(method, options: CallOptions(metadata: metadata)) { writer in
                try await writer.write(failing)
            } responses: { messages, headers in
                _ = await headers()
                for try await _ in messages {}
            }
        }
        #expect(error?.message == "nope")
    }

    @Test(arguments: ClientTransport.allCases)
    func thousandConcurrentCallsOnOneChannel(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let echo = channel.echo
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<1000 {
                group.addTask { try await echo.say(EchoRequest(text: "c\(i)")).text }
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

    @Test(arguments: ClientTransport.allCases)
    func slowReaderBackPressuresTheServer(_ transport: ClientTransport) async throws {
        let channel = try SharedEchoServers.channel(transport)
        defer { channel.close() }
        let tag = "slow-\(transport)-\(UUID().uuidString.prefix(8))"
        let request = EchoRequest(text: "tag:\(tag)", repeat: 1000, payload: Data(repeating: 1, count: 64 << 10))  // 64 MiB in all
        let count = try await channel.echo.expand(request) { stream in
            var iterator = stream.makeAsyncIterator()
            var count = 0
            for _ in 0..<5 { if try await iterator.next() != nil { count += 1 } }
            // Stop reading for a while: the server must stall after about one window, not send it all.
            try await Task.sleep(for: .milliseconds(800))
            let progress = try await channel.observed(tag)
            let sent = Int(progress.split(separator: " ").last ?? "") ?? 0
            #expect(progress.hasPrefix("sent"), "server progress: \(progress)")
            #expect(sent < 200, "the server got \(sent) messages out while the client read 5")
            while try await iterator.next() != nil { count += 1 }
            return count
        }
        #expect(count == 1000)
    }
}
