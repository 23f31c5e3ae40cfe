import Foundation
import NimbusProto
import NimbusTestingProto

/// Named `Everything` values shared with Tests/python/roundtrip/check.py, which builds the
/// same values with Python's protobuf: keep both lists in step. `Date` holds seconds since 2001
/// as a Double, so timestamps here use exactly representable fractions.
enum RoundTripCases {
    typealias Nested = TestingV1.Everything.Nested

    static let all: [(name: String, message: TestingV1.Everything)] = [
        ("empty", TestingV1.Everything()),
        ("scalars_max", TestingV1.Everything(
            fInt32: .max, fInt64: .max, fUint32: .max, fUint64: .max, fSint32: .max, fSint64: .max,
            fFixed32: .max, fFixed64: .max, fSfixed32: .max, fSfixed64: .max, fBool: true,
            fFloat: .greatestFiniteMagnitude, fDouble: .greatestFiniteMagnitude)),
        ("scalars_min", TestingV1.Everything(
            fInt32: .min, fInt64: .min, fUint32: 1, fUint64: 1, fSint32: .min, fSint64: .min,
            fFixed32: 1, fFixed64: 1, fSfixed32: .min, fSfixed64: .min, fBool: false,
            fFloat: -1.5, fDouble: -2.5e-300)),
        ("negatives", TestingV1.Everything(fInt32: -1, fInt64: -1, fSint32: -1, fSint64: -1, color: .negative)),
        ("strings", TestingV1.Everything(
            fString: "héllo wörld ✓ 🚀", fBytes: Data(0...255),
            rString: ["a", "", "ü"], rBytes: [Data(), Data([0, 255])])),
        ("repeated", TestingV1.Everything(
            rInt32: [1, -1, 300, .max], rSint64: [-1, 1, .min], rDouble: [0.5, -0.25], rBool: [true, false, true],
            rColor: [.red, .blue, .negative, .unrecognized(99)],
            rFixed32: [1, .max], rUint64: [0, .max], rFloat: [1.5, -2])),
        ("nested", TestingV1.Everything(
            nested: Nested(name: "n", value: 7, child: Nested(name: "c", children: [Nested(name: "g1"), Nested(value: -5)])),
            rNested: [Nested(), Nested(name: "x")])),
        ("map_single", TestingV1.Everything(
            labels: ["key": "value"], nestedByName: ["n": Nested(value: 1)], colorById: [7: .green])),
        ("maps", TestingV1.Everything(
            labels: ["b": "2", "a": "1", "": "empty"],
            nestedByName: ["x": Nested(), "y": Nested(name: "y", child: Nested(value: 3))],
            colorById: [-1: .red, 0: .unspecified, 5: .unrecognized(42)])),
        ("timestamps", TestingV1.Everything(
            createdAt: Date(timeIntervalSince1970: 1_700_000_000.5),
            rTimestamp: [Date(timeIntervalSince1970: 1.125), Date(timeIntervalSince1970: -0.5),
                         Date(timeIntervalSince1970: 0)])),
        ("oneof_text", TestingV1.Everything(choice: .choiceText("chosen"))),
        ("oneof_empty_text", TestingV1.Everything(choice: .choiceText(""))),
        ("oneof_zero_number", TestingV1.Everything(choice: .choiceNumber(0))),
        ("oneof_nested", TestingV1.Everything(choice: .choiceNested(Nested(name: "o")))),
        ("enums", TestingV1.Everything(color: .unrecognized(42), mode: .safe)),
    ]
}
