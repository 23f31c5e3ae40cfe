import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct JSONParserTests {
    @Test func parsesEveryKindAndKeepsOrder() throws {
        let value = try JSONParser.parse(#" {"b": [1, -2.5e3, true, false, null], "a": "x\u00e9\n", "c": {}} "#)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.members.map(\.key) == ["b", "a", "c"])
        #expect(object["b"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(object["a"] == .string("xé\n"))
    }

    @Test func keepsInt64PrecisionAsText() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .number("9223372036854775807"))
        #expect(try JSONParser.parse("18446744073709551615") == .number("18446744073709551615"))
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test(arguments: [
        ("", 1, 1), ("{", 1, 2), ("[1,]", 1, 4), ("{\"a\" 1}", 1, 6), ("01", 1, 1), ("1.", 1, 3),
        ("\"abc", 1, 1), ("tru", 1, 1), ("NaN", 1, 1), ("{\n  \"a\": x}", 2, 8), ("[1] 2", 1, 5),
        ("\"\\ud83d\"", 1, 8), ("\"\\q\"", 1, 3), ("\"a\u{01}\"", 1, 3), ("{'a': 1}", 1, 2),
    ])
    func rejectsMalformedInputWithPosition(_ text: String, _ line: Int, _ column: Int) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line, "\(text): \(error)")
            #expect(error.column == column, "\(text): \(error)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let value = JSONValue.object(["q": .string("a\"b\\c\n\u{01}é"), "n": .array([.number("1"), .null])])
        let text = JSONWriter.string(value)
        #expect(text == #"{"q":"a\"b\\c\n\u0001é","n":[1,null]}"#)
        #expect(try JSONParser.parse(text) == value)
        #expect(try JSONParser.parse(JSONWriter.string(value, pretty: true)) == value)
    }

    /// Cheap deterministic fuzzing: mutations of a valid document never crash the parser.
    @Test func survivesMutatedInput() {
        let seed = Array(#"{"a":[1,2.5e-3,"x\u0041",{"b":null,"c":true}],"d":"\ud83d\ude00"}"#.utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<(1 + Int(next() % 4)) {
                let position = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: position)
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            if let value = try? JSONParser.parse(bytes) {
                #expect((try? JSONParser.parse(JSONWriter.serialize(value))) == value)
            }
        }
    }
}
