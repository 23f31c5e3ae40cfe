import NimbusProtoJSON
import NimbusTestSupport
import Testing
@testable import NimbusGateway

/// Deterministic random input for the parsers that see untrusted bytes: they may reject it,
/// never crash or hang.
@Suite struct RobustnessTests {
    struct XorShift: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    @Test func randomProtobufBytesNeverCrashTheDecoder() throws {
        var random = XorShift(state: 0xDEAD_BEEF_CAFE_F00D)
        let valid = try Fixtures.transcoder.protobuf(fromJSONText: Array(#"""
        {"name":"web","ports":[{"containerPort":80}],"labels":{"a":"b"},"createdAt":"2024-01-01T00:00:00Z",
         "metadata":{"k":[1,"x",null]},"numbers":[1,2,3],"extra":{"@type":"type.googleapis.com/gatewaytest.v1.Port","hostPort":1}}
        """#.utf8), messageType: Fixtures.instance)
        for round in 0..<5_000 {
            var bytes = valid
            if round % 2 == 0 {
                bytes = (0..<Int(random.next() % 64)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                for _ in 0..<(1 + Int(random.next() % 3)) where !bytes.isEmpty {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8.random(in: 0...255, using: &random)
                }
            }
            _ = try? Fixtures.transcoder.json(fromProtobuf: bytes, messageType: Fixtures.instance)
        }
    }

    @Test func randomPathsAndQueriesNeverCrashTheRouter() throws {
        var random = XorShift(state: 0x1234_5678_9ABC_DEF0)
        let router = try HTTPRouter(descriptors: Fixtures.descriptors)
        let rest = RESTTranscoder(descriptors: Fixtures.descriptors)
        let alphabet = Array("/v1instances{}:%2F?&=.*_-abcXYZ0123456789+ é".unicodeScalars)
        for _ in 0..<5_000 {
            let length = Int(random.next() % 40)
            var text = "/"
            for _ in 0..<length { text.unicodeScalars.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            let parts = text.split(separator: "?", maxSplits: 1)
            let path = String(parts.first ?? "/")
            for method in ["GET", "POST", "PATCH"] {
                if case .matched(let match) = router.route(method: method, path: path.hasPrefix("/") ? path : "/" + path) {
                    _ = try? rest.requestMessage(for: match, query: parts.count > 1 ? String(parts[1]) : nil, body: [], contentType: nil)
                }
            }
            _ = try? PathTemplate(text)
        }
    }
}
