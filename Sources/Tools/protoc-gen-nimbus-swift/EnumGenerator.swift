/// Emits a proto enum as a Swift enum with one case per value plus `.unrecognized(Int32)`,
/// so values from newer peers survive a decode/encode round trip.
enum EnumGenerator {
    static func emit(_ e: EnumModel, into w: inout SwiftWriter) {
        // Aliases (allow_alias) share a number: the first name is the case, the others constants.
        var seen: Set<Int32> = []
        var cases: [(name: String, number: Int32, comment: String?)] = []
        var aliases: [(name: String, target: String)] = []
        for value in e.values {
            let name = Naming.enumCase(value.name, enumName: e.name)
            if seen.insert(value.number).inserted {
                cases.append((name, value.number, value.comment))
            } else if let target = cases.first(where: { $0.number == value.number }) {
                aliases.append((name, target.name))
            }
        }
        let swiftName = Naming.typeName(e.name, isEnum: true)
        let zero = cases.first(where: { $0.number == 0 }) ?? cases.first
        w.doc(e.comment)
        if e.comment != nil { w.line("///") }
        w.line("/// `\(e.fullName)`")
        w.block("public enum \(swiftName): Sendable, Hashable, RawRepresentable, CaseIterable") { w in
            for c in cases {
                w.doc(c.comment)
                w.line("case \(Naming.escaped(c.name)) // = \(c.number)")
            }
            w.line("/// A value this version does not know (kept as is when re-encoded).")
            w.line("case unrecognized(Int32)")
            for alias in aliases { w.line("public static let \(Naming.escaped(alias.name)) = \(swiftName).\(Naming.escaped(alias.target))") }
            w.line()
            if let zero {
                w.line("public init() { self = .\(Naming.escaped(zero.name)) }")
            } else {
                w.line("public init() { self = .unrecognized(0) }")
            }
            w.line()
            w.block("public init(rawValue: Int32)") { w in
                w.block("switch rawValue") { w in
                    for c in cases { w.line("case \(c.number): self = .\(Naming.escaped(c.name))") }
                    w.line("default: self = .unrecognized(rawValue)")
                }
            }
            w.line()
            w.block("public var rawValue: Int32") { w in
                w.block("switch self") { w in
                    for c in cases { w.line("case .\(Naming.escaped(c.name)): \(c.number)") }
                    w.line("case .unrecognized(let value): value")
                }
            }
            w.line()
            w.line("public static let allCases: [\(swiftName)] = [\(cases.map { "." + Naming.escaped($0.name) }.joined(separator: ", "))]")
        }
    }
}
