/// Emits a message struct (with its nested types) and its bridge to the protoc-c struct.
struct MessageGenerator {
    let registry: TypeRegistry

    /// One stored member of the struct: a plain field or a oneof.
    private enum Member {
        case field(FieldModel, FieldShape)
        case oneof(name: String, cases: [(FieldModel, ValueCodec)])
    }

    private enum FieldShape {
        case singular(ValueCodec)
        case optional(ValueCodec)  // message-typed: presence
        /// proto2 `optional` scalar, string or bytes: `hasFlag` is protoc-c's `has_x` member,
        /// nil for strings (absent is a NULL pointer).
        case presence(ValueCodec, hasFlag: String?)
        case repeated(ValueCodec)
        case map(key: ValueCodec, value: ValueCodec, entryCType: String)
    }

    private func members(of m: MessageModel) throws -> [Member] {
        let isProto3 = try registry.message(m.fullName).1.isProto3
        var result: [Member] = []
        var emittedOneofs: Set<Int> = []
        for field in m.fields {
            if field.isProto3Optional {
                throw GeneratorError("\(m.fullName).\(field.name): proto3 'optional' is not supported (protoc-c 1.4 rejects it)")
            }
            if let index = field.oneofIndex {
                guard !emittedOneofs.contains(index) else { continue }
                emittedOneofs.insert(index)
                let cases = try m.fields.filter { $0.oneofIndex == index }.map { ($0, try ValueCodec.make($0, registry: registry)) }
                result.append(.oneof(name: m.oneofs[index], cases: cases))
                continue
            }
            if field.isRepeated, field.kind == .message, case let (entry, _) = try registry.message(field.typeName), entry.isMapEntry {
                guard let keyField = entry.fields.first(where: { $0.number == 1 }),
                      let valueField = entry.fields.first(where: { $0.number == 2 }) else {
                    throw GeneratorError("\(entry.fullName): malformed map entry")
                }
                result.append(.field(field, .map(key: try ValueCodec.make(keyField, registry: registry),
                                                 value: try ValueCodec.make(valueField, registry: registry),
                                                 entryCType: Naming.cType(fullName: entry.fullName))))
                continue
            }
            let codec = try ValueCodec.make(field, registry: registry)
            if field.isRepeated {
                result.append(.field(field, .repeated(codec)))
            } else if codec.isMessagePointer {
                result.append(.field(field, .optional(codec)))
            } else if !isProto3 && !field.isRequired {
                let hasFlag = field.kind == .string ? nil : "has_" + Naming.cFieldRaw(field.name)
                result.append(.field(field, .presence(codec, hasFlag: hasFlag)))
            } else {
                result.append(.field(field, .singular(codec)))
            }
        }
        return result
    }

    private func propertyName(_ field: FieldModel) -> String { Naming.property(field.name) }

    /// The Swift enum of a oneof: its UpperCamel name, or `<Name>Oneof` when a nested type has it.
    private func oneofTypeName(_ oneofName: String, in m: MessageModel) -> String {
        let name = Naming.upperCamel(oneofName)
        let taken = Set(m.nested.map { Naming.typeName($0.name) } + m.enums.map { Naming.typeName($0.name, isEnum: true) })
        return taken.contains(name) ? name + "Oneof" : name
    }

    // ── the struct ──

    func emitStruct(_ m: MessageModel, into w: inout SwiftWriter) throws {
        let members = try members(of: m)
        let swiftName = Naming.typeName(m.name)
        w.doc(m.comment)
        if m.comment != nil { w.line("///") }
        w.line("/// `\(m.fullName)`")
        try w.block("public struct \(swiftName): Sendable, Hashable") { w in
            for member in members {
                switch member {
                case .field(let field, let shape):
                    let name = Naming.escaped(propertyName(field))
                    w.doc(field.comment)
                    switch shape {
                    case .singular(let codec):
                        w.line("public var \(name): \(codec.swiftType) = \(codec.defaultValue)")
                    case .optional(let codec):
                        if codec.swiftType == "Date" {
                            w.line("public var \(name): Date? = nil")
                        } else {
                            // Boxed so that a message may contain itself.
                            let storage = "_\(propertyName(field))"
                            w.line("public var \(name): \(codec.swiftType)? {")
                            w.line("    get { \(storage).value }")
                            w.line("    set { \(storage) = ProtoBox(newValue) }")
                            w.line("}")
                            w.line("private var \(storage) = ProtoBox<\(codec.swiftType)?>(nil)")
                        }
                    case .presence(let codec, _):
                        w.line("public var \(name): \(codec.swiftType)? = nil")
                    case .repeated(let codec):
                        w.line("public var \(name): [\(codec.swiftType)] = []")
                    case .map(let key, let value, _):
                        w.line("public var \(name): [\(key.swiftType): \(value.swiftType)] = [:]")
                    }
                case .oneof(let oneofName, _):
                    w.line("/// The `\(oneofName)` oneof: at most one of its fields is set.")
                    w.line("public var \(Naming.escaped(Naming.property(oneofName))): \(oneofTypeName(oneofName, in: m))? = nil")
                }
            }
            if !members.isEmpty { w.line() }
            w.line("public init() {}")
            if !members.isEmpty {
                w.line()
                var params: [String] = []
                var assigns: [String] = []
                for member in members {
                    switch member {
                    case .field(let field, let shape):
                        let name = propertyName(field)
                        let type: String
                        let zero: String
                        switch shape {
                        case .singular(let c): type = c.swiftType; zero = c.defaultValue
                        case .optional(let c), .presence(let c, _): type = c.swiftType + "?"; zero = "nil"
                        case .repeated(let c): type = "[\(c.swiftType)]"; zero = "[]"
                        case .map(let k, let v, _): type = "[\(k.swiftType): \(v.swiftType)]"; zero = "[:]"
                        }
                        params.append("\(Naming.escaped(name)): \(type) = \(zero)")
                        assigns.append("self.\(Naming.escaped(name)) = \(Naming.escaped(name))")
                    case .oneof(let oneofName, _):
                        let name = Naming.property(oneofName)
                        params.append("\(Naming.escaped(name)): \(oneofTypeName(oneofName, in: m))? = nil")
                        assigns.append("self.\(Naming.escaped(name)) = \(Naming.escaped(name))")
                    }
                }
                w.line("public init(")
                w.indented { w in
                    for (i, p) in params.enumerated() { w.line(p + (i == params.count - 1 ? "" : ",")) }
                }
                w.block(")") { w in assigns.forEach { w.line($0) } }
            }
            for member in members {
                guard case .oneof(let oneofName, let cases) = member else { continue }
                w.line()
                w.line("/// The `\(oneofName)` oneof.")
                let indirect = cases.contains { $0.1.isMessagePointer && $0.1.swiftType != "Date" }
                w.block("public \(indirect ? "indirect " : "")enum \(oneofTypeName(oneofName, in: m)): Sendable, Hashable") { w in
                    for (field, codec) in cases {
                        w.doc(field.comment)
                        w.line("case \(Naming.escaped(propertyName(field)))(\(codec.swiftType))")
                    }
                }
            }
            for nested in m.nested where !nested.isMapEntry {
                w.line()
                try emitStruct(nested, into: &w)
            }
            for e in m.enums {
                w.line()
                EnumGenerator.emit(e, into: &w)
            }
        }
    }

    // ── the bridge ──

    func emitBridge(_ m: MessageModel, into w: inout SwiftWriter) throws {
        let members = try members(of: m)
        let swiftName = try registry.swiftName(m.fullName)
        let cType = Naming.cType(fullName: m.fullName)
        let cLower = Naming.cLower(fullName: m.fullName)
        w.line()
        try w.block("extension \(swiftName): ProtoMessage") { w in
            w.line("public static let protoMessageName = \"\(m.fullName)\"")
            w.line()
            w.block("public init(serializedBytes bytes: [UInt8]) throws") { w in
                // Nested messages have no `__unpack`; the descriptor pointer comes from `__init`.
                w.line("var probe = \(cType)()")
                w.line("\(cLower)__init(&probe)")
                w.line("self = try ProtoRuntime.unpack(")
                w.line("    bytes, descriptor: probe.base.descriptor, as: \(cType).self, messageName: Self.protoMessageName")
                w.line(") { try Self(cMessage: $0) }")
            }
            w.line()
            w.block("public func serializedBytes() -> [UInt8]") { w in
                w.line("ProtoArena.with { arena in ProtoRuntime.pack(cMessage(in: arena)) }")
            }
            w.line()
            w.line("/// Reads a protobuf-c struct (owned by the caller).")
            try w.block("package init(cMessage message: UnsafePointer<\(cType)>) throws") { w in
                w.line("self.init()")
                if !members.isEmpty { w.line("let m = message.pointee") }
                for member in members { try emitDecode(member, into: &w) }
            }
            w.line()
            w.line("/// Builds the protobuf-c struct in `arena`.")
            try w.block("package func cMessage(in arena: ProtoArena) -> UnsafeMutablePointer<\(cType)>") { w in
                w.line("let c = arena.allocate(\(cType).self)")
                w.line("\(cLower)__init(c)")
                for member in members { try emitEncode(member, into: &w) }
                w.line("return c")
            }
        }
        for nested in m.nested where !nested.isMapEntry {
            try emitBridge(nested, into: &w)
        }
    }

    private func decodeExpr(_ codec: ValueCodec, _ c: String) -> String {
        (codec.decodeThrows ? "try " : "") + codec.decode(c)
    }

    private func emitDecode(_ member: Member, into w: inout SwiftWriter) throws {
        switch member {
        case .field(let field, let shape):
            let name = "self." + Naming.escaped(propertyName(field))
            let cField = Naming.cField(field.name)
            switch shape {
            case .singular(let codec):
                w.line("\(name) = \(decodeExpr(codec, "m.\(cField)"))")
            case .optional(let codec):
                w.line("if let p = m.\(cField) { \(name) = \(decodeExpr(codec, "p")) }")
            case .presence(let codec, let hasFlag?):
                w.line("if m.\(hasFlag) != 0 { \(name) = \(decodeExpr(codec, "m.\(cField)")) }")
            case .presence(let codec, nil):
                w.line("if let p = m.\(cField) { \(name) = \(decodeExpr(codec, "p")) }")
            case .repeated(let codec):
                let elements = "ProtoRuntime.array(m.\(cField), m.n_\(Naming.cFieldRaw(field.name)))"
                if codec.isMessagePointer {
                    w.line("\(name) = try \(elements).map { \(decodeExpr(codec, "try ProtoRuntime.unwrap($0, in: Self.protoMessageName)")) }")
                } else if codec.decode("$0") == "$0" {
                    w.line("\(name) = Array(\(elements))")
                } else {
                    w.line("\(name) = \(codec.decodeThrows ? "try " : "")\(elements).map { \(decodeExpr(codec, "$0")) }")
                }
            case .map(let key, let value, _):
                w.block("for entry in ProtoRuntime.array(m.\(cField), m.n_\(Naming.cFieldRaw(field.name)))") { w in
                    w.line("let e = try ProtoRuntime.unwrap(entry, in: Self.protoMessageName).pointee")
                    let valueExpr = value.isMessagePointer
                        ? "try e.value.map { \(decodeExpr(value, "$0")) } ?? \(value.defaultValue)"
                        : decodeExpr(value, "e.value")
                    w.line("\(name)[\(decodeExpr(key, "e.key"))] = \(valueExpr)")
                }
            }
        case .oneof(let oneofName, let cases):
            let name = "self." + Naming.escaped(Naming.property(oneofName))
            w.block("switch m.\(oneofName.lowercased())_case.rawValue") { w in
                for (field, codec) in cases {
                    let caseName = Naming.escaped(propertyName(field))
                    let cField = Naming.cField(field.name)
                    if codec.isMessagePointer {
                        w.line("case \(field.number): if let p = m.\(cField) { \(name) = .\(caseName)(\(decodeExpr(codec, "p"))) }")
                    } else {
                        w.line("case \(field.number): \(name) = .\(caseName)(\(decodeExpr(codec, "m.\(cField)")))")
                    }
                }
                w.line("default: break")
            }
        }
    }

    private func emitEncode(_ member: Member, into w: inout SwiftWriter) throws {
        switch member {
        case .field(let field, let shape):
            let name = "self." + Naming.escaped(propertyName(field))
            let cField = Naming.cField(field.name)
            let nField = "n_" + Naming.cFieldRaw(field.name)
            switch shape {
            case .singular(let codec):
                w.line("c.pointee.\(cField) = \(codec.encode(name))")
            case .optional(let codec), .presence(let codec, nil):
                w.line("if let v = \(name) { c.pointee.\(cField) = \(codec.encode("v")) }")
            case .presence(let codec, let hasFlag?):
                w.line("if let v = \(name) { c.pointee.\(hasFlag) = 1; c.pointee.\(cField) = \(codec.encode("v")) }")
            case .repeated(let codec):
                w.line("c.pointee.\(nField) = \(name).count")
                if codec.isMessagePointer {
                    w.line("c.pointee.\(cField) = arena.array(\(name).map { Optional(\(codec.encode("$0"))) })")
                } else if codec.encode("$0") == "$0" {
                    w.line("c.pointee.\(cField) = arena.array(\(name))")
                } else {
                    w.line("c.pointee.\(cField) = arena.array(\(name).map { \(codec.encode("$0")) })")
                }
            case .map(let key, let value, let entryCType):
                let entryLower = Naming.cLower(fullName: try registry.message(field.typeName).0.fullName)
                w.line("c.pointee.\(nField) = \(name).count")
                w.block("c.pointee.\(cField) = arena.array(ProtoRuntime.sortedKeys(\(name)).map { entry in", close: "})") { w in
                    w.line("let e = arena.allocate(\(entryCType).self)")
                    w.line("\(entryLower)__init(e)")
                    w.line("e.pointee.key = \(key.encode("entry.key"))")
                    w.line("e.pointee.value = \(value.encode("entry.value"))")
                    w.line("return Optional(e)")
                }
            }
        case .oneof(let oneofName, let cases):
            w.block("switch self.\(Naming.escaped(Naming.property(oneofName)))") { w in
                for (field, codec) in cases {
                    w.line("case .\(Naming.escaped(propertyName(field)))(let v)?:")
                    w.indented { w in
                        w.line("c.pointee.\(oneofName.lowercased())_case = .init(rawValue: \(field.number))")
                        w.line("c.pointee.\(Naming.cField(field.name)) = \(codec.encode("v"))")
                    }
                }
                w.line("case nil: break")
            }
        }
    }
}
