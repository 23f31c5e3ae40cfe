/// JSON → protobuf binary, one message at a time, driven by descriptors.
struct JSONToProto {
    let descriptors: DescriptorSet
    let maxDepth: Int

    private func fail(_ path: String, _ message: String) -> TranscodingError {
        TranscodingError(path: path, message: message)
    }

    private func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    mutating func encodeMessage(_ value: JSONValue, _ message: MessageDescriptor, path: String, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard depth < maxDepth else { throw fail(path, "nested deeper than \(maxDepth) levels") }
        if WellKnownType.hasSpecialJSON(message.fullName) {
            return try encodeWellKnown(value, message, path: path, depth: depth)
        }
        guard case .object(let object) = value else {
            throw fail(path, "expected an object (\(message.name)), found \(kind(value))")
        }
        var writer = ProtoWriter()
        var seen: Set<Int> = []
        var oneofSeen: [Int: String] = [:]
        for member in object {
            let fieldPath = path.appendingField(member.key)
            guard let field = message.field(named: member.key) else {
                throw fail(fieldPath, "unknown field \"\(member.key)\" in \(message.fullName)")
            }
            guard seen.insert(field.number).inserted else {
                throw fail(fieldPath, "field given more than once")
            }
            if case .null = member.value, !acceptsNull(field) { continue }
            if let oneof = field.oneofIndex, !field.proto3Optional {
                if let other = oneofSeen[oneof] {
                    let name = message.oneofNames.indices.contains(oneof) ? message.oneofNames[oneof] : "oneof"
                    throw fail(fieldPath, "only one of \(name) may be set, \"\(other)\" is set too")
                }
                oneofSeen[oneof] = member.key
            }
            try encodeField(member.value, field, path: fieldPath, depth: depth, into: &writer)
        }
        return writer.bytes
    }

    /// `null` is a value (not "unset") only for `google.protobuf.Value` and `NullValue`.
    private func acceptsNull(_ field: FieldDescriptor) -> Bool {
        !field.isRepeated && (field.typeName == WellKnownType.value || field.typeName == WellKnownType.nullValue)
    }

    private func mapEntry(_ field: FieldDescriptor) -> MessageDescriptor? {
        guard field.isRepeated, field.type == .message, let typeName = field.typeName,
              let entry = descriptors.message(typeName), entry.isMapEntry else { return nil }
        return entry
    }

    private mutating func encodeField(_ value: JSONValue, _ field: FieldDescriptor, path: String, depth: Int, into writer: inout ProtoWriter) throws(TranscodingError) {
        if let entry = mapEntry(field) {
            guard case .object(let object) = value else { throw fail(path, "expected an object (map), found \(kind(value))") }
            guard let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
                throw fail(path, "malformed map entry \(entry.fullName)")
            }
            var keys: Set<String> = []
            for member in object {
                let entryPath = "\(path)[\"\(member.key)\"]"
                guard keys.insert(member.key).inserted else { throw fail(entryPath, "map key given more than once") }
                var entryWriter = ProtoWriter()
                try encodeSingle(mapKeyValue(member.key, keyField, path: entryPath), keyField, path: entryPath, depth: depth, into: &entryWriter)
                if case .null = member.value, !acceptsNull(valueField) {
                    throw fail(entryPath, "map values may not be null")
                }
                try encodeSingle(member.value, valueField, path: entryPath, depth: depth, into: &entryWriter)
                writer.writeTag(field.number, .lengthDelimited)
                writer.writeLengthDelimited(entryWriter.bytes)
            }
            return
        }
        if field.isRepeated {
            guard case .array(let elements) = value else { throw fail(path, "expected an array, found \(kind(value))") }
            if field.type.isPackable && field.packed != false {
                guard !elements.isEmpty else { return }
                var packed = ProtoWriter()
                for (i, element) in elements.enumerated() {
                    try encodeScalar(element, field, path: "\(path)[\(i)]", into: &packed)
                }
                writer.writeTag(field.number, .lengthDelimited)
                writer.writeLengthDelimited(packed.bytes)
            } else {
                for (i, element) in elements.enumerated() {
                    let elementPath = "\(path)[\(i)]"
                    if case .null = element, field.typeName != WellKnownType.value {
                        throw fail(elementPath, "array elements may not be null")
                    }
                    try encodeSingle(element, field, path: elementPath, depth: depth, into: &writer)
                }
            }
            return
        }
        try encodeSingle(value, field, path: path, depth: depth, into: &writer)
    }

    /// Map keys are JSON strings whatever the key type.
    private func mapKeyValue(_ key: String, _ field: FieldDescriptor, path: String) throws(TranscodingError) -> JSONValue {
        switch field.type {
        case .string: return .string(key)
        case .bool:
            guard key == "true" || key == "false" else { throw fail(path, "map key must be true or false") }
            return .bool(key == "true")
        default: return .string(key)
        }
    }

    /// One value with its tag.
    private mutating func encodeSingle(_ value: JSONValue, _ field: FieldDescriptor, path: String, depth: Int, into writer: inout ProtoWriter) throws(TranscodingError) {
        switch field.type {
        case .message, .group:
            guard let typeName = field.typeName, let message = descriptors.message(typeName) else {
                throw fail(path, "unknown message type \(field.typeName ?? "?")")
            }
            let bytes = try encodeMessage(value, message, path: path, depth: depth + 1)
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(bytes)
        case .string:
            guard case .string(let s) = value else { throw fail(path, "expected a string, found \(kind(value))") }
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(Array(s.utf8))
        case .bytes:
            guard case .string(let s) = value else { throw fail(path, "expected base64 bytes as a string, found \(kind(value))") }
            guard let bytes = Base64.decode(s) else { throw fail(path, "invalid base64") }
            writer.writeTag(field.number, .lengthDelimited)
            writer.writeLengthDelimited(bytes)
        default:
            writer.writeTag(field.number, field.type.wireType)
            try encodeScalar(value, field, path: path, into: &writer)
        }
    }

    /// A numeric, boolean or enum value without its tag (also used inside packed arrays).
    private func encodeScalar(_ value: JSONValue, _ field: FieldDescriptor, path: String, into writer: inout ProtoWriter) throws(TranscodingError) {
        func integerText() throws(TranscodingError) -> String {
            switch value {
            case .number(let n): return n
            case .string(let s): return s
            default: throw fail(path, "expected an integer, found \(kind(value))")
            }
        }
        func signed(_ bits: Int) throws(TranscodingError) -> Int64 {
            let text = try integerText()
            guard let v = ProtoJSONNumbers.signed(text, bits: bits) else {
                throw fail(path, "\"\(text.prefix(40))\" is not a whole number in the int\(bits) range")
            }
            return v
        }
        func unsigned(_ bits: Int) throws(TranscodingError) -> UInt64 {
            let text = try integerText()
            guard let v = ProtoJSONNumbers.unsigned(text, bits: bits) else {
                throw fail(path, "\"\(text.prefix(40))\" is not a whole number in the uint\(bits) range")
            }
            return v
        }
        func floating() throws(TranscodingError) -> Double {
            let parsed: Double?
            switch value {
            case .number(let n): parsed = ProtoJSONNumbers.floatingPoint(n, isString: false)
            case .string(let s): parsed = ProtoJSONNumbers.floatingPoint(s, isString: true)
            default: throw fail(path, "expected a number, found \(kind(value))")
            }
            guard let parsed else { throw fail(path, "not a number") }
            if case .number = value, parsed.isInfinite { throw fail(path, "number out of range") }
            return parsed
        }
        switch field.type {
        case .int32: writer.writeVarint(UInt64(bitPattern: try signed(32)))
        case .int64: writer.writeVarint(UInt64(bitPattern: try signed(64)))
        case .uint32, .uint64: writer.writeVarint(try unsigned(field.type == .uint32 ? 32 : 64))
        case .sint32: writer.writeVarint(ZigZag.encode32(Int32(try signed(32))))
        case .sint64: writer.writeVarint(ZigZag.encode(try signed(64)))
        case .fixed32: writer.writeFixed32(UInt32(try unsigned(32)))
        case .fixed64: writer.writeFixed64(try unsigned(64))
        case .sfixed32: writer.writeFixed32(UInt32(bitPattern: Int32(try signed(32))))
        case .sfixed64: writer.writeFixed64(UInt64(bitPattern: try signed(64)))
        case .double: writer.writeFixed64(try floating().bitPattern)
        case .float:
            let d = try floating()
            if d.isFinite && abs(d) > Double(Float.greatestFiniteMagnitude) { throw fail(path, "number out of float range") }
            writer.writeFixed32(Float(d).bitPattern)
        case .bool:
            guard case .bool(let b) = value else { throw fail(path, "expected true or false, found \(kind(value))") }
            writer.writeVarint(b ? 1 : 0)
        case .enum:
            writer.writeVarint(UInt64(bitPattern: Int64(try enumNumber(value, field, path: path))))
        default:
            throw fail(path, "a \(field.type) value cannot be packed")
        }
    }

    private func enumNumber(_ value: JSONValue, _ field: FieldDescriptor, path: String) throws(TranscodingError) -> Int32 {
        guard let typeName = field.typeName, let enumType = descriptors.enumType(typeName) else {
            throw fail(path, "unknown enum type \(field.typeName ?? "?")")
        }
        switch value {
        case .null where typeName == WellKnownType.nullValue: return 0
        case .string(let name):
            guard let number = enumType.number(for: name) else {
                let names = enumType.values.map(\.name)
                let shown = names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", …" : "")
                throw fail(path, "\"\(name.prefix(60))\" is not a value of \(enumType.fullName) (one of \(shown))")
            }
            return number
        case .number(let n):
            guard let number = ProtoJSONNumbers.signed(n, bits: 32) else { throw fail(path, "enum number out of range") }
            return Int32(number)
        default:
            throw fail(path, "expected an enum name, found \(kind(value))")
        }
    }

    // MARK: well-known types

    private mutating func encodeWellKnown(_ value: JSONValue, _ message: MessageDescriptor, path: String, depth: Int) throws(TranscodingError) -> [UInt8] {
        var writer = ProtoWriter()
        switch message.fullName {
        case WellKnownType.timestamp:
            guard case .string(let s) = value, let (seconds, nanos) = WellKnownTime.parseTimestamp(s) else {
                throw fail(path, "expected an RFC 3339 timestamp like \"2024-01-02T15:04:05Z\"")
            }
            writeSecondsNanos(seconds, nanos, into: &writer)
        case WellKnownType.duration:
            guard case .string(let s) = value, let (seconds, nanos) = WellKnownTime.parseDuration(s) else {
                throw fail(path, "expected a duration like \"1.5s\"")
            }
            writeSecondsNanos(seconds, nanos, into: &writer)
        case WellKnownType.fieldMask:
            guard case .string(let s) = value else { throw fail(path, "expected a field mask string like \"name,spec.size\"") }
            for mask in s.split(separator: ",") where !mask.isEmpty {
                let snake = mask.split(separator: ".").map { WellKnownType.snakeCase($0) }.joined(separator: ".")
                writer.writeTag(1, .lengthDelimited)
                writer.writeLengthDelimited(Array(snake.utf8))
            }
        case WellKnownType.structType:
            guard case .object = value, let field = message.field(number: 1) else {
                throw fail(path, "expected an object, found \(kind(value))")
            }
            try encodeField(value, field, path: path, depth: depth, into: &writer)
        case WellKnownType.listValue:
            guard case .array = value, let field = message.field(number: 1) else {
                throw fail(path, "expected an array, found \(kind(value))")
            }
            try encodeField(value, field, path: path, depth: depth, into: &writer)
        case WellKnownType.value:
            let number: Int
            switch value {
            case .null: number = 1
            case .number: number = 2
            case .string: number = 3
            case .bool: number = 4
            case .object: number = 5
            case .array: number = 6
            }
            guard let field = message.field(number: number) else { throw fail(path, "malformed google.protobuf.Value") }
            if case .number(let n) = value {
                guard let d = Double(n), d.isFinite else { throw fail(path, "number out of range") }
            }
            try encodeSingle(value, field, path: path, depth: depth, into: &writer)
        case WellKnownType.any:
            return try encodeAny(value, path: path, depth: depth)
        default:
            // Wrappers: the JSON value is the wrapped value itself.
            guard let field = message.field(number: 1) else { throw fail(path, "malformed \(message.fullName)") }
            try encodeSingle(value, field, path: path, depth: depth, into: &writer)
        }
        return writer.bytes
    }

    private func writeSecondsNanos(_ seconds: Int64, _ nanos: Int32, into writer: inout ProtoWriter) {
        if seconds != 0 {
            writer.writeTag(1, .varint)
            writer.writeVarint(UInt64(bitPattern: seconds))
        }
        if nanos != 0 {
            writer.writeTag(2, .varint)
            writer.writeVarint(UInt64(bitPattern: Int64(nanos)))
        }
    }

    private mutating func encodeAny(_ value: JSONValue, path: String, depth: Int) throws(TranscodingError) -> [UInt8] {
        guard case .object(var object) = value else { throw fail(path, "expected an object with \"@type\"") }
        guard case .string(let typeURL)? = object["@type"] else {
            throw fail(path.appendingField("@type"), "google.protobuf.Any needs a \"@type\" string")
        }
        object["@type"] = nil
        let typeName = String(typeURL.split(separator: "/").last ?? "")
        guard let message = descriptors.message(typeName) else {
            throw fail(path.appendingField("@type"), "unknown type \(typeURL)")
        }
        let payload: [UInt8]
        if WellKnownType.hasSpecialJSON(message.fullName) {
            guard let inner = object["value"], object.count == 1 else {
                throw fail(path, "an Any holding \(message.fullName) takes exactly one \"value\" member")
            }
            payload = try encodeMessage(inner, message, path: path.appendingField("value"), depth: depth + 1)
        } else {
            payload = try encodeMessage(.object(object), message, path: path, depth: depth + 1)
        }
        var writer = ProtoWriter()
        writer.writeTag(1, .lengthDelimited)
        writer.writeLengthDelimited(Array(typeURL.utf8))
        if !payload.isEmpty {
            writer.writeTag(2, .lengthDelimited)
            writer.writeLengthDelimited(payload)
        }
        return writer.bytes
    }
}
