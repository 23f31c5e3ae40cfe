import Foundation
import NimbusProto
import NimbusProtoRuntime
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// protobuf-c reads strings as C strings, so U+0000 inside one would cut it short: decoding
/// refuses such messages (naming the field) instead of handing on a truncated value.
@Suite struct StringNULTests {
    typealias Everything = TestingV1.Everything

    static let refused: [(String, [UInt8], String)] = [
        ("string", [0x72, 0x03, 0x61, 0x00, 0x62], "f_string"),
        ("string that is only NUL", [0x72, 0x01, 0x00], "f_string"),
        ("nested string", [0x8A, 0x01, 0x04, 0x0A, 0x02, 0x00, 0x61], "nested.name"),
        ("second repeated string", [0xB2, 0x01, 0x01, 0x61, 0xB2, 0x01, 0x02, 0x62, 0x00], "r_string"),
        ("map value", [0xD2, 0x01, 0x07, 0x0A, 0x01, 0x6B, 0x12, 0x02, 0x76, 0x00], "labels.value"),
        ("after other fields", [0x08, 0x01, 0x7A, 0x02, 0x00, 0xFF, 0x72, 0x02, 0x00, 0x00], "f_string"),
    ]

    @Test(arguments: refused)
    func refusesNULInStrings(_ name: String, _ wire: [UInt8], _ field: String) throws {
        let error = try #require(throws: ProtoDecodingError.self, "\(name)") { try Everything(serializedBytes: wire) }
        #expect(error.reason == "string field '\(field)' contains U+0000, which is not supported", "\(name)")
        #expect(error.rpcError.code == .invalidArgument)
    }

    @Test func bytesAndNumbersMayHoldZeros() throws {
        let message = Everything(
            fFixed32: 0x100, fFixed64: 1 << 32, fString: "plain", fBytes: Data([0, 1, 0]),
            nested: .init(name: "n"), rInt32: [0, 128], rString: ["", "x"])
        let decoded = try Everything(serializedBytes: message.serializedBytes())
        #expect(decoded == message)
        #expect(decoded.fBytes == Data([0, 1, 0]))
    }

    @Test func malformedBytesStillFailAsMalformed() {
        // A string whose length runs past the end: the walk stops, protobuf-c reports it.
        let error = #expect(throws: ProtoDecodingError.self) { try Everything(serializedBytes: [0x72, 0x05, 0x00]) }
        #expect(error?.reason == nil)
    }

    @Test func theRequestErrorNamesTheField() throws {
        let error = try #require(throws: RPCError.self) {
            try ProtoRPC.decodeRequest(TestingV1.EchoRequest.self, [0x0A, 0x03, 0x68, 0x00, 0x69])
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message == "malformed request: nimbus.testing.v1.EchoRequest: string field 'text' contains U+0000, which is not supported")
    }
}
