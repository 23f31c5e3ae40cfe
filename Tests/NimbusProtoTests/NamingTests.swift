import Foundation
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// naming.proto: keyword field names, aliases, unusual maps, two services in one file.
@Suite struct NamingTests {
    static let keywords = TestingV1.Keywords(
        default: "d", class: 3, self_: true, repeat: 9, type: "t", int: ["1", "2"],
        flags: [true: Data([1]), false: Data()], statuses: [UInt64.max: .active, 2: .status2fa],
        nothing: GoogleProtobuf.Empty(), inner: .init(kind: "k"), urlValue: "u", union: .for("x"))
    /// Python's protobuf decodes these bytes to the value above (checked when the test was written).
    static let wire = "0a01641003180120092a01743201313201323a003a050801120101420408021002"
        + "420d08ffffffffffffffffff0110014a0052030a016b5a0175620178"

    @Test func keywordFieldsEncodeAsTheProtoSays() throws {
        let hex = Self.keywords.serializedBytes().map { String(format: "%02x", $0) }.joined()
        #expect(hex == Self.wire)
        #expect(try TestingV1.Keywords(serializedBytes: Self.keywords.serializedBytes()) == Self.keywords)
    }

    @Test func enumAliasesAndPrefixes() {
        #expect(TestingV1.Status.enabled == .active)
        #expect(TestingV1.Status(rawValue: 2) == .status2fa)
        #expect(TestingV1.Status.allCases == [.unspecified, .active, .status2fa])
    }

    struct Mirror: TestingV1.MirrorService {
        func reflect(_ requests: RPCMessageStream<TestingV1.Keywords>, responses: RPCMessageWriter<TestingV1.Keywords>, context: ServerContext) async throws {
            for try await request in requests { try await responses.write(request) }
        }
    }

    @Test func severalServicesPerFile() async throws {
        #expect(TestingV1.AdminMethods.getHTTPKeywords.path == "/nimbus.testing.v1.Admin/GetHTTPKeywords")
        #expect(TestingV1.MirrorMethods.serviceName == "nimbus.testing.v1.Mirror")
        let client = TestingV1.MirrorClient(transport: LoopbackTransport(Mirror()))
        let echoed = try await client.reflect(
            requests: { try await $0.write(Self.keywords) },
            responses: { try await $0.reduce(into: []) { $0.append($1) } })
        #expect(echoed == [Self.keywords])
        #expect(TestingV1.MirrorMethods.fileDescriptors.first?.name == "nimbus/testing/v1/naming.proto")
    }
}

@Test func oneofNamedLikeANestedTypeGetsASuffix() throws {
    let shape = TestingV1.Shape(kind: .named(.square))
    #expect(shape.serializedBytes() == [0x10, 0x01])
    #expect(try TestingV1.Shape(serializedBytes: [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]).kind == .radius(1))
}
