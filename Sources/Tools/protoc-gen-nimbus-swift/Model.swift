/// The parts of a `FileDescriptorProto` the generator uses, as plain values.
struct FileModel {
    var name: String
    var package: String
    var syntax: String
    var dependencies: [String]
    var messages: [MessageModel]
    var enums: [EnumModel]
    var services: [ServiceModel]
    /// The serialized `FileDescriptorProto` without `source_code_info`.
    var serializedDescriptor: [UInt8]

    var isProto3: Bool { syntax == "proto3" }
}

struct MessageModel {
    var name: String
    /// The comment before the declaration in the .proto, if any.
    var comment: String?
    /// Fully qualified, without a leading dot: `nimbus.testing.v1.Everything.Nested`.
    var fullName: String
    var fields: [FieldModel]
    var nested: [MessageModel]
    var enums: [EnumModel]
    var oneofs: [String]
    var isMapEntry: Bool
}

struct FieldModel {
    var comment: String?
    enum Kind: Int32 {
        case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message, bytes,
             uint32, `enum`, sfixed32, sfixed64, sint32, sint64
    }
    var name: String
    var number: Int32
    var isRepeated: Bool
    var isRequired: Bool
    var kind: Kind
    /// Fully qualified type name of a message or enum field, without a leading dot.
    var typeName: String
    var oneofIndex: Int?
    var isProto3Optional: Bool
}

struct EnumModel {
    var name: String
    var comment: String?
    var fullName: String
    var values: [(name: String, number: Int32, comment: String?)]
}

struct ServiceModel {
    var name: String
    var comment: String?
    var fullName: String
    var methods: [MethodModel]
}

struct MethodModel {
    var name: String
    var comment: String?
    var inputType: String
    var outputType: String
    var clientStreaming: Bool
    var serverStreaming: Bool
    /// The serialized `google.api.HttpRule` of the method's `google.api.http` option, if any
    /// (protobuf-c keeps the extension as an unknown field of MethodOptions).
    var httpRule: [UInt8]?
}

struct GeneratorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
