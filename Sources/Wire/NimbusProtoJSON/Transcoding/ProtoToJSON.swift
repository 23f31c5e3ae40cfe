/// Protobuf binary → proto3 JSON, driven by descriptors. Unknown fields are dropped; fields
/// come out in declaration order.
struct ProtoToJSON {
    let descriptors: DescriptorSet
    let options: ProtoJSONTranscoder.Options

    private func fail(_ path: String, _ message: String) -> TranscodingError {
        TranscodingError(path: path, message: message)
    }

    /// What one field collected while reading the wire.
    private enum Collected {
        case single(JSONValue)
        case message([UInt8])   // singular message parts, merged by concatenation
        case list([JSONValue])
        case map([JSONObject.Member])
    }

    func decodeMessage(_ reader: ProtoReader, _ message: MessageDescriptor, path: String, depth: Int) throws(TranscodingError) -> JSONValue {
        guard depth < options.maxDepth else { throw fail(path, "nested deeper than \(options.maxDepth) levels") }
        do {
            return try decodeMessageUnchecked(reader, message, path: path, depth: depth)
        } catch let error as TranscodingError {
            throw error
        } catch {
            throw fail(path, "\(error)")
        }
    }

    private func decodeMessageUnchecked(_ reader: ProtoReader, _ message: MessageDescriptor, path: String, depth: Int) throws -> JSONValue {
        var reader = reader
        var collected: [Int: Collected] = [:]
        while let (number, wireType) = try reader.readTag() {
            guard let field = message.field(number: number) else {
                try reader.skip(wireType, field: number)
                continue
            }
            let fieldPath = path.appendingField(field.jsonName)
            if let entry = mapEntry(field) {
                guard wireType == .lengthDelimited else { throw fail(fieldPath, "map entry with wire type \(wireType)") }
                let member = try decodeMapEntry(try reader.readSubmessage(), entry, path: fieldPath, depth: depth)
                if case .map(var members)? = collected[number] {
                    members.removeAll { $0.key == member.key }
                    members.append(member)
                    collected[number] = .map(members)
                } else {
                    collected[number] = .map([member])
                }
                continue
            }
            if field.isRepeated {
                var list: [JSONValue] = []
                if case .list(let existing)? = collected[number] { list = existing }
                if field.type.isPackable && wireType == .lengthDelimited {
                    var packed = try reader.readSubmessage()
                    while !packed.isAtEnd {
                        list.append(try decodeValue(&packed, field, path: fieldPath, depth: depth))
                    }
                } else {
                    try checkWireType(wireType, field, path: fieldPath)
                    list.append(try decodeValue(&reader, field, path: fieldPath, depth: depth))
                }
                collected[number] = .list(list)
                continue
            }
            try checkWireType(wireType, field, path: fieldPath)
            if field.type == .message {
                let range = try reader.readLengthDelimitedRange()
                if case .message(let earlier)? = collected[number] {
                    collected[number] = .message(earlier + reader.bytes[range])
                } else {
                    collected[number] = .message(Array(reader.bytes[range]))
                }
            } else {
                collected[number] = .single(try decodeValue(&reader, field, path: fieldPath, depth: depth))
            }
        }

        if WellKnownType.hasSpecialJSON(message.fullName) {
            return try wellKnownJSON(message, collected: collected, path: path, depth: depth)
        }
        var object = JSONObject()
        for field in message.fields {
            let fieldPath = path.appendingField(field.jsonName)
            let hasPresence = field.oneofIndex != nil || field.proto3Optional
            switch collected[field.number] {
            case .single(let value)?:
                if hasPresence || options.emitDefaultValues || !isDefault(value, field) {
                    object.members.append(.init(key: field.jsonName, value: value))
                }
            case .message(let bytes)?:
                object.members.append(.init(key: field.jsonName, value: try decodeSubmessage(bytes, field, path: fieldPath, depth: depth)))
            case .list(let values)?:
                object.members.append(.init(key: field.jsonName, value: .array(values)))
            case .map(let members)?:
                object.members.append(.init(key: field.jsonName, value: .object(JSONObject(members))))
            case nil:
                guard options.emitDefaultValues || (options.emitEmptyCollections && field.isRepeated), !hasPresence else { continue }
                if mapEntry(field) != nil {
                    object.members.append(.init(key: field.jsonName, value: .object(JSONObject())))
                } else if field.isRepeated {
                    object.members.append(.init(key: field.jsonName, value: .array([])))
                } else if field.type != .message, let value = defaultValue(field) {
                    object.members.append(.init(key: field.jsonName, value: value))
                }
            }
        }
        return .object(object)
    }

    private func mapEntry(_ field: FieldDescriptor) -> MessageDescriptor? {
        guard field.isRepeated, field.type == .message, let typeName = field.typeName,
              let entry = descriptors.message(typeName), entry.isMapEntry else { return nil }
        return entry
    }

    private func checkWireType(_ wireType: ProtoWireType, _ field: FieldDescriptor, path: String) throws {
        guard wireType == field.type.wireType else {
            throw fail(path, "field \(field.number) arrived with wire type \(wireType), expected \(field.type.wireType)")
        }
    }

    private func decodeSubmessage(_ bytes: [UInt8], _ field: FieldDescriptor, path: String, depth: Int) throws -> JSONValue {
        guard let typeName = field.typeName, let message = descriptors.message(typeName) else {
            throw fail(path, "unknown message type \(field.typeName ?? "?")")
        }
        return try decodeMessage(ProtoReader(bytes), message, path: path, depth: depth + 1)
    }

    private func decodeMapEntry(_ reader: ProtoReader, _ entry: MessageDescriptor, path: String, depth: Int) throws -> JSONObject.Member {
        var reader = reader
        guard let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
            throw fail(path, "malformed map entry \(entry.fullName)")
        }
        var key: JSONValue?
        var value: JSONValue?
        var messageBytes: [UInt8]?
        while let (number, wireType) = try reader.readTag() {
            switch number {
            case 1:
                try checkWireType(wireType, keyField, path: path)
                key = try decodeValue(&reader, keyField, path: path, depth: depth)
            case 2:
                try checkWireType(wireType, valueField, path: path)
                if valueField.type == .message {
                    messageBytes = (messageBytes ?? []) + reader.bytes[try reader.readLengthDelimitedRange()]
                } else {
                    value = try decodeValue(&reader, valueField, path: path, depth: depth)
                }
            default:
                try reader.skip(wireType, field: number)
            }
        }
        let keyText: String
        switch key ?? defaultValue(keyField) ?? .string("") {
        case .string(let s): keyText = s
        case .number(let n): keyText = n
        case .bool(let b): keyText = b ? "true" : "false"
        default: keyText = ""
        }
        let entryPath = "\(path)[\"\(keyText)\"]"
        if valueField.type == .message {
            value = try decodeSubmessage(messageBytes ?? [], valueField, path: entryPath, depth: depth)
        }
        return .init(key: keyText, value: value ?? defaultValue(valueField) ?? .null)
    }

    /// One non-message value (or, for repeated message fields, one message).
    private func decodeValue(_ reader: inout ProtoReader, _ field: FieldDescriptor, path: String, depth: Int) throws -> JSONValue {
        switch field.type {
        case .int32: return .integer(Int32(truncatingIfNeeded: try reader.readVarint()))
        case .int64: return .string(String(Int64(bitPattern: try reader.readVarint())))
        case .uint32: return .integer(UInt32(truncatingIfNeeded: try reader.readVarint()))
        case .uint64: return .string(String(try reader.readVarint()))
        case .sint32: return .integer(ZigZag.decode32(try reader.readVarint()))
        case .sint64: return .string(String(ZigZag.decode(try reader.readVarint())))
        case .fixed32: return .integer(try reader.readFixed32())
        case .fixed64: return .string(String(try reader.readFixed64()))
        case .sfixed32: return .integer(Int32(bitPattern: try reader.readFixed32()))
        case .sfixed64: return .string(String(Int64(bitPattern: try reader.readFixed64())))
        case .bool: return .bool(try reader.readVarint() != 0)
        case .float: return ProtoJSONNumbers.format(Float(bitPattern: try reader.readFixed32()))
        case .double: return ProtoJSONNumbers.format(Double(bitPattern: try reader.readFixed64()))
        case .string:
            let start = reader.offset
            do { return .string(try reader.readString()) } catch { throw fail(path, "invalid UTF-8 in string field (byte \(start))") }
        case .bytes: return .string(Base64.encode(reader.bytes[try reader.readLengthDelimitedRange()]))
        case .enum:
            let number = Int32(truncatingIfNeeded: try reader.readVarint())
            if field.typeName == WellKnownType.nullValue { return .null }
            if let typeName = field.typeName, let name = descriptors.enumType(typeName)?.name(for: number) {
                return .string(name)
            }
            return .integer(number)
        case .message:
            return try decodeSubmessage(Array(reader.bytes[try reader.readLengthDelimitedRange()]), field, path: path, depth: depth)
        case .group:
            throw fail(path, "groups are not supported")
        }
    }

    private func defaultValue(_ field: FieldDescriptor) -> JSONValue? {
        switch field.type {
        case .int32, .uint32, .sint32, .fixed32, .sfixed32, .float, .double: return .number("0")
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: return .string("0")
        case .bool: return .bool(false)
        case .string, .bytes: return .string("")
        case .enum:
            if field.typeName == WellKnownType.nullValue { return .null }
            if let typeName = field.typeName, let name = descriptors.enumType(typeName)?.name(for: 0) { return .string(name) }
            return .number("0")
        case .message, .group: return nil
        }
    }

    private func isDefault(_ value: JSONValue, _ field: FieldDescriptor) -> Bool {
        switch value {
        case .number(let n): return n == "0" || n == "-0"
        case .string(let s):
            if field.type == .enum { return value == defaultValue(field) }
            return s.isEmpty || (field.type.is64Bit && s == "0")
        case .bool(let b): return !b
        case .null: return true
        default: return false
        }
    }

    // MARK: well-known types

    private func int64Value(_ collected: Collected?) -> Int64 {
        if case .single(.string(let s))? = collected { return Int64(s) ?? 0 }
        if case .single(.number(let s))? = collected { return Int64(s) ?? 0 }
        return 0
    }

    private func wellKnownJSON(_ message: MessageDescriptor, collected: [Int: Collected], path: String, depth: Int) throws -> JSONValue {
        switch message.fullName {
        case WellKnownType.timestamp:
            let seconds = int64Value(collected[1]), nanos = Int32(truncatingIfNeeded: int64Value(collected[2]))
            guard let text = WellKnownTime.formatTimestamp(seconds: seconds, nanos: nanos) else {
                throw fail(path, "timestamp out of range")
            }
            return .string(text)
        case WellKnownType.duration:
            let seconds = int64Value(collected[1]), nanos = Int32(truncatingIfNeeded: int64Value(collected[2]))
            guard let text = WellKnownTime.formatDuration(seconds: seconds, nanos: nanos) else {
                throw fail(path, "duration out of range")
            }
            return .string(text)
        case WellKnownType.fieldMask:
            guard case .list(let paths)? = collected[1] else { return .string("") }
            let camel = paths.compactMap(\.stringValue).map { path in
                path.split(separator: ".").map { FieldDescriptor.lowerCamelCase(String($0)) }.joined(separator: ".")
            }
            return .string(camel.joined(separator: ","))
        case WellKnownType.structType:
            if case .map(let members)? = collected[1] { return .object(JSONObject(members)) }
            return .object(JSONObject())
        case WellKnownType.listValue:
            if case .list(let values)? = collected[1] { return .array(values) }
            return .array([])
        case WellKnownType.value:
            for number in 1...6 {
                switch collected[number] {
                case .single(let value)?: return value
                case .message(let bytes)?:
                    guard let field = message.field(number: number) else { continue }
                    return try decodeSubmessage(bytes, field, path: path, depth: depth)
                default: continue
                }
            }
            return .null
        case WellKnownType.any:
            return try anyJSON(collected, path: path, depth: depth)
        default:
            // Wrappers print as their value.
            if case .single(let value)? = collected[1] { return value }
            guard let field = message.field(number: 1) else { return .null }
            return defaultValue(field) ?? .null
        }
    }

    private func anyJSON(_ collected: [Int: Collected], path: String, depth: Int) throws -> JSONValue {
        guard case .single(.string(let typeURL))? = collected[1] else { return .object(JSONObject()) }
        var payload: [UInt8] = []
        if case .single(.string(let base64))? = collected[2] { payload = Base64.decode(base64) ?? [] }
        let typeName = String(typeURL.split(separator: "/").last ?? "")
        guard let message = descriptors.message(typeName) else {
            throw fail(path, "Any holds unknown type \(typeURL)")
        }
        let inner = try decodeMessage(ProtoReader(payload), message, path: path, depth: depth + 1)
        var object = JSONObject()
        object.members.append(.init(key: "@type", value: .string(typeURL)))
        if WellKnownType.hasSpecialJSON(message.fullName) {
            object.members.append(.init(key: "value", value: inner))
        } else if case .object(let fields) = inner {
            object.members.append(contentsOf: fields.members)
        }
        return .object(object)
    }
}
