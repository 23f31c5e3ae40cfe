import Foundation
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// An Echo implementation written the way domain code writes services: plain Swift values only.
struct EchoImplementation: TestingV1.EchoService {
    typealias Request = TestingV1.EchoRequest
    typealias Response = TestingV1.EchoResponse

    func say(_ request: Request, context: ServerContext) async throws -> Response {
        if request.failWithCode != 0 {
            throw RPCError(RPCCode(rawValue: Int(request.failWithCode)), request.failWithMessage)
        }
        context.addTrailer("x-echo-method", value: .string(context.method.method))
        return Response(text: request.text, payload: request.payload)
    }

    func expand(_ request: Request, responses: RPCMessageWriter<Response>, context: ServerContext) async throws {
        for i in 0..<request.repeat {
            try await responses.write(Response(text: request.text, index: i))
        }
    }

    func collect(_ requests: RPCMessageStream<Request>, context: ServerContext) async throws -> Response {
        var texts: [String] = []
        for try await request in requests { texts.append(request.text) }
        return Response(text: texts.joined(separator: " "), index: Int32(texts.count))
    }

    func chat(_ requests: RPCMessageStream<Request>, responses: RPCMessageWriter<Response>, context: ServerContext) async throws {
        var index: Int32 = 0
        for try await request in requests {
            try await responses.write(Response(text: request.text.uppercased(), index: index))
            index += 1
        }
    }
}

@Suite struct ServiceStubTests {
    let client = TestingV1.EchoClient(transport: LoopbackTransport(EchoImplementation()))

    @Test func serviceDescribesItsMethods() {
        let service = EchoImplementation()
        #expect(service.serviceName == "nimbus.testing.v1.Echo")
        #expect(service.methods.map(\.descriptor.path) == [
            "/nimbus.testing.v1.Echo/Say", "/nimbus.testing.v1.Echo/Expand",
            "/nimbus.testing.v1.Echo/Collect", "/nimbus.testing.v1.Echo/Chat",
        ])
        #expect(service.methods.map(\.descriptor.kind) == [.unary, .serverStreaming, .clientStreaming, .bidirectionalStreaming])
        #expect(TestingV1.EchoMethods.say.kind == .unary)
        #expect(TestingV1.EchoMethods.all.count == 4)
    }

    @Test func unaryCallsRoundTripTypedValues() async throws {
        let response = try await client.say(.init(text: "hi", payload: Data([1, 2])))
        #expect(response == .init(text: "hi", payload: Data([1, 2])))
        let withMetadata = try await client.sayWithMetadata(.init(text: "x"))
        #expect(withMetadata.trailingMetadata["x-echo-method"] == "Say")
    }

    @Test func handlerErrorsReachTheClientAsStatus() async throws {
        let error = await #expect(throws: RPCError.self) {
            try await client.say(.init(failWithCode: Int32(RPCCode.notFound.rawValue), failWithMessage: "no such thing"))
        }
        #expect(error?.code == .notFound)
        #expect(error?.message == "no such thing")
    }

    @Test func malformedRequestBytesAreInvalidArgument() async throws {
        let say = try #require(EchoImplementation().methods.first)
        guard case .unary(let handler) = say.handler else { Issue.record("Say is not unary"); return }
        let context = ServerContext(method: say.descriptor, metadata: [:], deadline: nil, peer: "test")
        let error = await #expect(throws: RPCError.self) { try await handler([0x0A, 0x09, 0x61], context) }
        #expect(error?.code == .invalidArgument)
    }

    @Test func serverStreamingDeliversEveryResponse() async throws {
        let all = try await client.expand(.init(text: "e", repeat: 3))
        #expect(all.map(\.index) == [0, 1, 2])
        let count = try await client.expand(.init(text: "e", repeat: 5)) { stream in
            var n = 0
            for try await response in stream { #expect(response.text == "e"); n += 1 }
            return n
        }
        #expect(count == 5)
    }

    @Test func clientStreamingCollectsRequests() async throws {
        let response = try await client.collect([.init(text: "a"), .init(text: "b"), .init(text: "c")])
        #expect(response == .init(text: "a b c", index: 3))
        let empty = try await client.collect([])
        #expect(empty.index == 0)
    }

    @Test func bidirectionalStreamingInterleaves() async throws {
        let texts = try await client.chat(
            requests: { writer in
                for text in ["one", "two"] { try await writer.write(.init(text: text)) }
            },
            responses: { stream in
                var texts: [String] = []
                for try await response in stream { texts.append("\(response.index):\(response.text)") }
                return texts
            })
        #expect(texts == ["0:ONE", "1:TWO"])
    }

    @Test func fileDescriptorsCoverTheFileAndItsDependencies() {
        let files = EchoImplementation().fileDescriptors
        #expect(files.map(\.name) == ["nimbus/testing/v1/echo.proto", "google/protobuf/timestamp.proto"])
        let echo = TestingV1.EchoProtoFile.descriptor
        #expect(echo.dependencies == ["google/protobuf/timestamp.proto"])
        #expect(echo.symbols.contains("nimbus.testing.v1.Echo"))
        #expect(echo.symbols.contains("nimbus.testing.v1.Echo.Say"))
        #expect(echo.symbols.contains("nimbus.testing.v1.Everything.Nested"))
        #expect(echo.symbols.contains("nimbus.testing.v1.Color"))
        // FileDescriptorProto field 1 (name) comes first.
        #expect(Array(echo.serialized.prefix(2)) == [0x0A, UInt8(echo.name.utf8.count)])
        #expect(GrpcHealthV1.HealthMethods.fileDescriptors.map(\.name) == ["grpc/health/v1/health.proto"])
    }
}

@Test func httpRulesComeFromTheGoogleApiHttpOption() {
    let rules = TestingV1.AdminMethods.httpRules
    #expect(rules.count == 2)
    #expect(rules[TestingV1.AdminMethods.reset] == GoogleApi.HttpRule(pattern: .post("/v1/admin:reset"), body: "*"))
    #expect(rules[TestingV1.AdminMethods.getHTTPKeywords]?.pattern == .get("/v1/keywords/{default}"))
    #expect(rules[TestingV1.AdminMethods.unmapped] == nil)
    #expect(TestingV1.AdminMethods.fileDescriptors.map(\.name) == [
        "nimbus/testing/v1/naming.proto", "google/api/annotations.proto", "google/api/http.proto",
        "google/protobuf/descriptor.proto", "google/protobuf/empty.proto", "nimbus/testing/v1/echo.proto",
        "google/protobuf/timestamp.proto",
    ])
}
