import NimbusGRPC
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// Says back the request's metadata as `key=value` lines, in order (binary values as bytes).
private struct MetadataEcho: TestingV1.EchoService {
    func say(_ request: TestingV1.EchoRequest, context: ServerContext) async throws -> TestingV1.EchoResponse {
        let lines = context.metadata.map { key, value -> String in
            switch value {
            case .string(let text): "\(key)=\(text)"
            case .binary(let bytes): "\(key)=\(bytes)"
            }
        }
        return TestingV1.EchoResponse(text: lines.filter { $0.hasPrefix("x-") }.joined(separator: "\n"))
    }
    func expand(_ request: TestingV1.EchoRequest, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {}
    func collect(_ requests: RPCMessageStream<TestingV1.EchoRequest>, context: ServerContext) async throws -> TestingV1.EchoResponse { .init() }
    func chat(_ requests: RPCMessageStream<TestingV1.EchoRequest>, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {}
}

/// The server remembers a connection's recent header fields (bytes, Strings, rule checks,
/// tags) and which of them each slot of its request-head buffer holds: requests that change,
/// drop, add or reorder fields on one connection must each see exactly their own metadata.
@Suite("Request header reuse on one connection")
struct RequestHeaderReuseTests {
    @Test func everyRequestSeesExactlyItsOwnMetadata() async throws {
        var configuration = GRPCServerConfiguration(port: 0)
        configuration.accessLog = false
        let server = try GRPCServer(configuration: configuration, services: [MetadataEcho()])
        try await server.start()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { channel.close() }
        let echo = TestingV1.EchoClient(transport: channel)
        let sequences: [[(String, Metadata.Value)]] = [
            [("x-a", "1")],
            [("x-a", "1")],
            [("x-a", "2")],
            [("x-a", "2"), ("x-b", "3")],
            [("x-b", "3")],
            [],
            [("x-b", "3"), ("x-a", "2")],
            [("x-a", "1"), ("x-c-bin", .binary([0, 1, 2])), ("x-b", "3")],
            [("x-a", "1"), ("x-c-bin", .binary([0, 1, 2])), ("x-b", "3")],
            [("x-a", "1")],
            [("x-long", .string(String(repeating: "v", count: 300)))],
            [("x-a", "1")],
        ]
        for round in 0..<3 {
            for (index, fields) in sequences.enumerated() {
                var metadata = Metadata()
                for (key, value) in fields { metadata.add(key, value: value) }
                let reply = try await echo.say(TestingV1.EchoRequest(text: "\(index)"), options: CallOptions(metadata: metadata))
                let expected = fields.map { key, value -> String in
                    switch value {
                    case .string(let text): "\(key)=\(text)"
                    case .binary(let bytes): "\(key)=\(bytes)"
                    }
                }.joined(separator: "\n")
                #expect(reply.text == expected, "round \(round), request \(index)")
            }
        }
    }
}
