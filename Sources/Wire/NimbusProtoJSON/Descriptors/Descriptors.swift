/// A plain-Swift model of the parts of `google.protobuf.FileDescriptorProto` the gateway needs:
/// enough to transcode JSON, route HTTP and describe the API in OpenAPI. Names are fully
/// qualified without the leading dot (`nimbus.compute.v1.Instance`).

/// The protobuf field types, numbered as in `FieldDescriptorProto.Type`.
public enum ProtoFieldType: Int, Sendable, Hashable {
    case double = 1, float = 2, int64 = 3, uint64 = 4, int32 = 5, fixed64 = 6, fixed32 = 7
    case bool = 8, string = 9, group = 10, message = 11, bytes = 12, uint32 = 13, `enum` = 14
    case sfixed32 = 15, sfixed64 = 16, sint32 = 17, sint64 = 18

    /// The wire type a single (unpacked) value of this type uses.
    public var wireType: ProtoWireType {
        switch self {
        case .double, .fixed64, .sfixed64: .fixed64
        case .float, .fixed32, .sfixed32: .fixed32
        case .int64, .uint64, .int32, .bool, .uint32, .enum, .sint32, .sint64: .varint
        case .string, .bytes, .message: .lengthDelimited
        case .group: .startGroup
        }
    }

    /// Scalars that repeated fields pack by default in proto3.
    public var isPackable: Bool { wireType != .lengthDelimited && wireType != .startGroup }

    /// 64-bit integers travel as JSON strings.
    public var is64Bit: Bool { [.int64, .uint64, .fixed64, .sfixed64, .sint64].contains(self) }
}

public enum ProtoFieldLabel: Int, Sendable, Hashable {
    case optional = 1, required = 2, repeated = 3
}

public struct FieldDescriptor: Sendable, Hashable {
    public var name: String
    public var number: Int
    public var type: ProtoFieldType
    public var label: ProtoFieldLabel
    /// For message and enum fields, the referenced type's full name.
    public var typeName: String?
    public var jsonName: String
    public var oneofIndex: Int?
    /// Declared `optional` in proto3 (explicit presence through a synthetic oneof).
    public var proto3Optional: Bool
    /// `[packed = …]` when given explicitly.
    public var packed: Bool?
    /// `google.api.field_behavior` values (2 = REQUIRED, 3 = OUTPUT_ONLY, 5 = IMMUTABLE …).
    public var behaviors: [Int]
    public var deprecated: Bool
    public var comment: String?

    public var isRepeated: Bool { label == .repeated }
    public var isRequiredByAPI: Bool { behaviors.contains(2) }
    public var isOutputOnly: Bool { behaviors.contains(3) }

    public init(name: String, number: Int, type: ProtoFieldType, label: ProtoFieldLabel = .optional,
                typeName: String? = nil, jsonName: String? = nil, oneofIndex: Int? = nil,
                proto3Optional: Bool = false, packed: Bool? = nil, behaviors: [Int] = [],
                deprecated: Bool = false, comment: String? = nil) {
        self.name = name
        self.number = number
        self.type = type
        self.label = label
        self.typeName = typeName
        self.jsonName = jsonName ?? FieldDescriptor.lowerCamelCase(name)
        self.oneofIndex = oneofIndex
        self.proto3Optional = proto3Optional
        self.packed = packed
        self.behaviors = behaviors
        self.deprecated = deprecated
        self.comment = comment
    }

    /// protoc's default JSON name: underscores removed, the following letter upper-cased.
    public static func lowerCamelCase(_ name: String) -> String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }
}

public struct MessageDescriptor: Sendable {
    public var fullName: String
    public var fields: [FieldDescriptor]
    public var oneofNames: [String]
    public var isMapEntry: Bool
    public var comment: String?
    public var file: String

    private var byNumber: [Int: Int] = [:]
    private var byJSONName: [String: Int] = [:]

    public init(fullName: String, fields: [FieldDescriptor], oneofNames: [String] = [],
                isMapEntry: Bool = false, comment: String? = nil, file: String = "") {
        self.fullName = fullName
        self.fields = fields
        self.oneofNames = oneofNames
        self.isMapEntry = isMapEntry
        self.comment = comment
        self.file = file
        for (index, field) in fields.enumerated() {
            byNumber[field.number] = index
            // Both the JSON name and the proto name are accepted on input.
            byJSONName[field.jsonName] = index
            if byJSONName[field.name] == nil { byJSONName[field.name] = index }
        }
    }

    public var name: String { fullName.split(separator: ".").last.map(String.init) ?? fullName }
    public func field(number: Int) -> FieldDescriptor? { byNumber[number].map { fields[$0] } }
    /// Looks a field up by its JSON name or its proto name.
    public func field(named name: String) -> FieldDescriptor? { byJSONName[name].map { fields[$0] } }
}

public struct EnumDescriptor: Sendable {
    public var fullName: String
    public var values: [(name: String, number: Int32)]
    public var comment: String?

    public init(fullName: String, values: [(name: String, number: Int32)], comment: String? = nil) {
        self.fullName = fullName
        self.values = values
        self.comment = comment
    }

    /// The first name declared for a number (aliases share numbers).
    public func name(for number: Int32) -> String? { values.first { $0.number == number }?.name }
    public func number(for name: String) -> Int32? { values.first { $0.name == name }?.number }
}

public struct ServiceMethodDescriptor: Sendable {
    public var name: String
    public var inputType: String
    public var outputType: String
    public var clientStreaming: Bool
    public var serverStreaming: Bool
    public var httpRule: HTTPRule?
    public var comment: String?
    public var deprecated: Bool

    public init(name: String, inputType: String, outputType: String, clientStreaming: Bool = false,
                serverStreaming: Bool = false, httpRule: HTTPRule? = nil, comment: String? = nil,
                deprecated: Bool = false) {
        self.name = name
        self.inputType = inputType
        self.outputType = outputType
        self.clientStreaming = clientStreaming
        self.serverStreaming = serverStreaming
        self.httpRule = httpRule
        self.comment = comment
        self.deprecated = deprecated
    }
}

public struct ServiceDescriptor: Sendable {
    public var fullName: String
    public var methods: [ServiceMethodDescriptor]
    public var comment: String?
    public var file: String

    public init(fullName: String, methods: [ServiceMethodDescriptor], comment: String? = nil, file: String = "") {
        self.fullName = fullName
        self.methods = methods
        self.comment = comment
        self.file = file
    }

    public var name: String { fullName.split(separator: ".").last.map(String.init) ?? fullName }
}

/// One `google.api.HttpRule`: a verb and path template, which request field the body fills,
/// which response field becomes the body, and further bindings for the same method.
public struct HTTPRule: Sendable, Hashable {
    public var method: String
    public var path: String
    public var body: String
    public var responseBody: String
    public var additionalBindings: [HTTPRule]

    public init(method: String, path: String, body: String = "", responseBody: String = "",
                additionalBindings: [HTTPRule] = []) {
        self.method = method
        self.path = path
        self.body = body
        self.responseBody = responseBody
        self.additionalBindings = additionalBindings
    }

    /// This rule followed by its additional bindings (which cannot nest further).
    public var allBindings: [HTTPRule] {
        var primary = self
        primary.additionalBindings = []
        return [primary] + additionalBindings
    }
}

public struct FileDescriptor: Sendable {
    public var name: String
    public var package: String
    public var dependencies: [String]
    public var syntax: String
    public var messageNames: [String]
    public var enumNames: [String]
    public var serviceNames: [String]
}

/// A descriptor was inconsistent (a dangling type reference, a duplicate symbol).
public struct DescriptorError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid descriptor: \(message)" }
}
