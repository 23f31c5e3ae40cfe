/// JSON Schema (2020-12, as OpenAPI 3.1 uses it) for messages under the proto3 JSON mapping.
/// Messages become named components referenced by `$ref`; well-known types are inlined.
struct SchemaBuilder {
    let descriptors: DescriptorSet
    private(set) var schemas: [String: JSONValue] = [:]
    private var inProgress: Set<String> = []

    /// Well-known types written as a JSON string.
    static let textForm: Set<String> = [WellKnownType.timestamp, WellKnownType.duration, WellKnownType.fieldMask]

    init(descriptors: DescriptorSet) {
        self.descriptors = descriptors
    }

    /// A `$ref` to the message's component (built on first use), or the inline form of a WKT.
    mutating func reference(_ fullName: String) -> JSONValue {
        if let inline = wellKnown(fullName) { return inline }
        if schemas[fullName] == nil && !inProgress.contains(fullName) {
            inProgress.insert(fullName)
            schemas[fullName] = messageSchema(fullName)
            inProgress.remove(fullName)
        }
        return .object(["$ref": .string("#/components/schemas/\(fullName)")])
    }

    private mutating func messageSchema(_ fullName: String) -> JSONValue {
        guard let message = descriptors.message(fullName) else { return .object([:]) }
        var properties = JSONObject()
        for field in message.fields {
            var schema = fieldSchema(field)
            if case .object(var object) = schema {
                if let comment = field.comment, object["$ref"] == nil { object["description"] = .string(comment) }
                if field.isOutputOnly, object["$ref"] == nil { object["readOnly"] = .bool(true) }
                if field.deprecated, object["$ref"] == nil { object["deprecated"] = .bool(true) }
                schema = .object(object)
            }
            properties.members.append(.init(key: field.jsonName, value: schema))
        }
        var object: JSONObject = [
            "type": .string("object"),
            "properties": .object(properties),
            "additionalProperties": .bool(false),
        ]
        if let comment = message.comment { object["description"] = .string(comment) }
        return .object(object)
    }

    mutating func fieldSchema(_ field: FieldDescriptor) -> JSONValue {
        if field.isRepeated, field.type == .message, let typeName = field.typeName,
           let entry = descriptors.message(typeName), entry.isMapEntry,
           let key = entry.field(number: 1), let value = entry.field(number: 2) {
            var map: JSONObject = ["type": .string("object"), "additionalProperties": singleSchema(value)]
            switch key.type {
            case .string: break
            case .bool: map["propertyNames"] = .object(["enum": .array([.string("true"), .string("false")])])
            default: map["propertyNames"] = .object(["pattern": .string("^-?[0-9]+$")])
            }
            return .object(map)
        }
        if field.isRepeated {
            return .object(["type": .string("array"), "items": singleSchema(field)])
        }
        return singleSchema(field)
    }

    private mutating func singleSchema(_ field: FieldDescriptor) -> JSONValue {
        switch field.type {
        case .int32, .sint32, .sfixed32:
            return .object(["type": .string("integer"), "format": .string("int32")])
        case .uint32, .fixed32:
            return .object(["type": .string("integer"), "format": .string("int64"), "minimum": .number("0"), "maximum": .number("4294967295")])
        case .int64, .sint64, .sfixed64:
            return .object(["type": .string("string"), "format": .string("int64"), "pattern": .string("^-?(0|[1-9][0-9]{0,18})$")])
        case .uint64, .fixed64:
            return .object(["type": .string("string"), "format": .string("uint64"), "pattern": .string("^(0|[1-9][0-9]{0,19})$")])
        case .float, .double:
            return .object(["oneOf": .array([
                .object(["type": .string("number"), "format": .string(field.type == .float ? "float" : "double")]),
                .object(["type": .string("string"), "enum": .array([.string("NaN"), .string("Infinity"), .string("-Infinity")])]),
            ])])
        case .bool:
            return .object(["type": .string("boolean")])
        case .string:
            return .object(["type": .string("string")])
        case .bytes:
            return .object(["type": .string("string"), "format": .string("byte"), "contentEncoding": .string("base64")])
        case .enum:
            guard let typeName = field.typeName, let enumType = descriptors.enumType(typeName) else { return .object([:]) }
            if typeName == WellKnownType.nullValue { return .object(["type": .string("null")]) }
            if schemas[typeName] == nil {
                var schema: JSONObject = [
                    "type": .string("string"),
                    "enum": .array(enumType.values.map { .string($0.name) }),
                ]
                if let comment = enumType.comment { schema["description"] = .string(comment) }
                schemas[typeName] = .object(schema)
            }
            return .object(["$ref": .string("#/components/schemas/\(typeName)")])
        case .message, .group:
            return reference(field.typeName ?? "")
        }
    }

    private mutating func wellKnown(_ fullName: String) -> JSONValue? {
        switch fullName {
        case WellKnownType.timestamp:
            return .object(["type": .string("string"), "format": .string("date-time")])
        case WellKnownType.duration:
            return .object(["type": .string("string"), "pattern": .string("^-?[0-9]+(\\.[0-9]{1,9})?s$")])
        case WellKnownType.fieldMask:
            return .object(["type": .string("string"), "description": .string("Comma-separated field paths.")])
        case WellKnownType.structType:
            return .object(["type": .string("object")])
        case WellKnownType.value:
            return .object([:])
        case WellKnownType.listValue:
            return .object(["type": .string("array")])
        case WellKnownType.empty:
            return .object(["type": .string("object"), "additionalProperties": .bool(false)])
        case WellKnownType.any:
            return .object(["type": .string("object"), "required": .array([.string("@type")]),
                            "properties": .object(["@type": .object(["type": .string("string")])])])
        default:
            guard WellKnownType.wrappers.contains(fullName), let value = descriptors.message(fullName)?.field(number: 1) else {
                return nil
            }
            return singleSchema(value)
        }
    }
}
