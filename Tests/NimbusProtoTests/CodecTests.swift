import Foundation
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// Encodings checked against the protobuf wire format by hand, one field kind at a time.
@Suite struct CodecTests {
    typealias Everything = TestingV1.Everything

    static let singleFields: [(String, Everything, [UInt8])] = [
        ("int32", Everything(fInt32: 150), [0x08, 0x96, 0x01]),
        ("int32 negative", Everything(fInt32: -1), [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01]),
        ("int64", Everything(fInt64: 1 << 40), [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]),
        ("uint32", Everything(fUint32: .max), [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        ("uint64", Everything(fUint64: 300), [0x20, 0xAC, 0x02]),
        ("sint32", Everything(fSint32: -2), [0x28, 0x03]),
        ("sint64", Everything(fSint64: -1), [0x30, 0x01]),
        ("fixed32", Everything(fFixed32: 0x0403_0201), [0x3D, 1, 2, 3, 4]),
        ("fixed64", Everything(fFixed64: 1), [0x41, 1, 0, 0, 0, 0, 0, 0, 0]),
        ("sfixed32", Everything(fSfixed32: -1), [0x4D, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("sfixed64", Everything(fSfixed64: -2), [0x51, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("bool", Everything(fBool: true), [0x58, 0x01]),
        ("float", Everything(fFloat: 1.5), [0x65, 0x00, 0x00, 0xC0, 0x3F]),
        ("double", Everything(fDouble: 1.5), [0x69, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F]),
        ("string", Everything(fString: "hé"), [0x72, 0x03, 0x68, 0xC3, 0xA9]),
        ("bytes", Everything(fBytes: Data([0, 0xFF])), [0x7A, 0x02, 0x00, 0xFF]),
        ("enum", Everything(color: .blue), [0x80, 0x01, 0x03]),
        ("nested", Everything(nested: .init(name: "a")), [0x8A, 0x01, 0x03, 0x0A, 0x01, 0x61]),
        ("packed int32", Everything(rInt32: [1, 150]), [0x92, 0x01, 0x03, 0x01, 0x96, 0x01]),
        ("repeated string", Everything(rString: ["a", ""]), [0xB2, 0x01, 0x01, 0x61, 0xB2, 0x01, 0x00]),
        ("map", Everything(labels: ["k": "v"]), [0xD2, 0x01, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0x76]),
        ("timestamp", Everything(createdAt: Date(timeIntervalSince1970: 1.5)),
         [0xEA, 0x01, 0x08, 0x08, 0x01, 0x10, 0x80, 0xCA, 0xB5, 0xEE, 0x01]),
        ("oneof", Everything(choice: .choiceNumber(5)), [0x80, 0x02, 0x05]),
        ("nested enum", Everything(mode: .fast), [0xA8, 0x02, 0x01]),
    ]

    @Test(arguments: singleFields)
    func encodesOneFieldKind(_ name: String, _ message: Everything, _ wire: [UInt8]) throws {
        #expect(message.serializedBytes() == wire, "\(name)")
        #expect(try Everything(serializedBytes: wire) == message, "\(name)")
    }

    @Test func defaultsEncodeToNothing() throws {
        #expect(Everything().serializedBytes() == [])
        #expect(try Everything(serializedBytes: []) == Everything())
        #expect(TestingV1.EchoRequest().serializedBytes() == [])
    }

    @Test(arguments: [
        ("truncated varint", [0x08, 0x96] as [UInt8]),
        ("length past the end", [0x72, 0x05, 0x61]),
        ("invalid wire type", [0x0F, 0x00]),
        ("field number zero", [0x00, 0x01]),
        ("string not UTF-8", [0x72, 0x02, 0xC3, 0x28]),
        ("truncated nested", [0x8A, 0x01, 0x05, 0x0A, 0x01]),
        ("nested garbage", [0x8A, 0x01, 0x02, 0xFF, 0xFF]),
    ])
    func malformedBytesThrow(_ name: String, _ bytes: [UInt8]) {
        #expect(throws: ProtoDecodingError.self, "\(name)") { try Everything(serializedBytes: bytes) }
    }

    @Test func decodingErrorMapsToInvalidArgument() {
        let error = ProtoDecodingError(messageName: Everything.protoMessageName)
        #expect(error.rpcError.code == .invalidArgument)
        #expect(Everything.protoMessageName == "nimbus.testing.v1.Everything")
    }

    @Test func unknownEnumValuesSurviveARoundTrip() throws {
        let bytes: [UInt8] = [0x80, 0x01, 0x63]  // color = 99
        let message = try Everything(serializedBytes: bytes)
        #expect(message.color == .unrecognized(99))
        #expect(message.color.rawValue == 99)
        #expect(message.serializedBytes() == bytes)
        #expect(TestingV1.Color(rawValue: 2) == .green)
        #expect(TestingV1.Color.allCases.count == 5)
    }

    @Test func recursiveMessagesNestDeeply() throws {
        var node = TestingV1.Everything.Nested(name: "leaf")
        for i in 0..<50 { node = .init(name: "n\(i)", child: node) }
        let message = Everything(nested: node)
        let decoded = try Everything(serializedBytes: message.serializedBytes())
        #expect(decoded == message)
        var depth = 0
        var current = decoded.nested
        while let n = current { depth += 1; current = n.child }
        #expect(depth == 51)
    }

    @Test func messageFieldsAreOptionalsAndValueTyped() {
        var a = Everything(nested: .init(name: "a"))
        let b = a
        a.nested?.name = "changed"
        #expect(b.nested?.name == "a")
        a.nested = nil
        #expect(a.nested == nil)
        #expect(a != b)
    }

    @Test func unknownFieldsAreSkipped() throws {
        // field 1000 (varint) then text = "x": an older reader ignores what it does not know
        let bytes: [UInt8] = [0xC0, 0x3E, 0x01, 0x0A, 0x01, 0x78]
        #expect(try TestingV1.EchoRequest(serializedBytes: bytes).text == "x")
    }

    @Test func largePayloadsRoundTrip() throws {
        let payload = Data((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let request = TestingV1.EchoRequest(text: String(repeating: "x", count: 100_000), payload: payload)
        let decoded = try TestingV1.EchoRequest(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
    }

    @Test func wellKnownAndStandardTypesAreGenerated() throws {
        let status = GrpcHealthV1.HealthCheckResponse(status: .notServing)
        #expect(status.serializedBytes() == [0x08, 0x02])
        let t = GoogleProtobuf.Timestamp(date: Date(timeIntervalSince1970: -0.25))
        #expect(t.seconds == -1 && t.nanos == 750_000_000)
        let reflection = GrpcReflectionV1.ServerReflectionRequest(host: "h", messageRequest: .listServices(""))
        #expect(try GrpcReflectionV1.ServerReflectionRequest(serializedBytes: reflection.serializedBytes()) == reflection)
    }
}

@Test func outOfRangeTimestampsClampInsteadOfTrapping() throws {
    // seconds = Int64.max decodes to a far-future Date; re-encoding clamps to 9999-12-31.
    let huge = try TestingV1.Everything(serializedBytes: [0xEA, 0x01, 0x0A, 0x08] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
    let again = try TestingV1.Everything(serializedBytes: huge.serializedBytes())
    #expect(again.createdAt == Date(timeIntervalSince1970: 253_402_300_799))
    let parts = GoogleProtobuf.Timestamp(date: Date(timeIntervalSince1970: -.infinity))
    #expect(parts.seconds == 0 && parts.nanos == 0)
}
