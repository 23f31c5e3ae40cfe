/// How one value (a singular field, a repeated element, a map key or value) is declared in
/// Swift and converted from / to its protoc-c representation.
struct ValueCodec {
    /// The Swift type of one value.
    var swiftType: String
    /// The proto3 default as a Swift expression (for non-presence values).
    var defaultValue: String
    /// Whether the C representation is a pointer to a message struct (presence, arrays of pointers).
    var isMessagePointer: Bool
    /// Whether decoding may throw.
    var decodeThrows: Bool
    /// Swift expression for the value read from the C expression (a non-nil pointer for messages).
    var decode: (String) -> String
    /// C expression for the Swift expression (`arena` in scope).
    var encode: (String) -> String

    static let timestampName = "google.protobuf.Timestamp"

    static func make(_ field: FieldModel, registry: TypeRegistry) throws -> ValueCodec {
        func plain(_ type: String, _ zero: String) -> ValueCodec {
            ValueCodec(swiftType: type, defaultValue: zero, isMessagePointer: false, decodeThrows: false,
                       decode: { $0 }, encode: { $0 })
        }
        switch field.kind {
        case .double: return plain("Double", "0")
        case .float: return plain("Float", "0")
        case .int64, .sint64, .sfixed64: return plain("Int64", "0")
        case .uint64, .fixed64: return plain("UInt64", "0")
        case .int32, .sint32, .sfixed32: return plain("Int32", "0")
        case .uint32, .fixed32: return plain("UInt32", "0")
        case .bool:
            return ValueCodec(swiftType: "Bool", defaultValue: "false", isMessagePointer: false, decodeThrows: false,
                              decode: { "(\($0) != 0)" }, encode: { "(\($0) ? Int32(1) : Int32(0))" })
        case .string:
            return ValueCodec(swiftType: "String", defaultValue: "\"\"", isMessagePointer: false, decodeThrows: true,
                              decode: { "ProtoRuntime.string(\($0), in: Self.protoMessageName)" },
                              encode: { "arena.string(\($0))" })
        case .bytes:
            return ValueCodec(swiftType: "Data", defaultValue: "Data()", isMessagePointer: false, decodeThrows: false,
                              decode: { "ProtoRuntime.data(\($0))" }, encode: { "arena.binary(\($0))" })
        case .enum:
            let e = try registry.enumeration(field.typeName)
            let swift = try registry.swiftName(field.typeName)
            let cType = Naming.cType(fullName: field.typeName)
            let zero = e.values.first(where: { $0.number == 0 }) ?? e.values.first
            let zeroCase = zero.map { "." + Naming.escaped(Naming.enumCase($0.name, enumName: e.name)) } ?? "\(swift)(rawValue: 0)"
            return ValueCodec(swiftType: swift, defaultValue: zeroCase, isMessagePointer: false, decodeThrows: false,
                              decode: { "\(swift)(rawValue: Int32(truncatingIfNeeded: \($0).rawValue))" },
                              encode: { "\(cType)(rawValue: .init(truncatingIfNeeded: \($0).rawValue))" })
        case .message:
            if field.typeName == timestampName {
                return ValueCodec(swiftType: "Date", defaultValue: "Date(timeIntervalSince1970: 0)", isMessagePointer: true,
                                  decodeThrows: true,
                                  decode: { "GoogleProtobuf.Timestamp(cMessage: \($0)).date" },
                                  encode: { "GoogleProtobuf.Timestamp(date: \($0)).cMessage(in: arena)" })
            }
            let swift = try registry.swiftName(field.typeName)
            return ValueCodec(swiftType: swift, defaultValue: "\(swift)()", isMessagePointer: true, decodeThrows: true,
                              decode: { "\(swift)(cMessage: \($0))" }, encode: { "\($0).cMessage(in: arena)" })
        case .group:
            throw GeneratorError("\(field.name): groups are not supported")
        }
    }
}
