/// A JSON value that does not fit the message it should become (or bytes that do not decode).
/// `path` names where: `instance.ports[0].hostPort`.
public struct TranscodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Converts between the proto3 JSON mapping and the protobuf binary encoding, for any message
/// in a `DescriptorSet`: lowerCamelCase names (proto names accepted too), 64-bit integers as
/// strings, enums by name, bytes as base64, RFC 3339 timestamps, the well-known types.
public struct ProtoJSONTranscoder: Sendable {
    public struct Options: Sendable {
        /// Print fields without presence even when they hold their default (0, "", false, []).
        public var emitDefaultValues: Bool
        /// Print empty repeated fields as `[]` and empty maps as `{}` (implied by
        /// `emitDefaultValues`), so a client reads a list without a special case for "absent".
        public var emitEmptyCollections: Bool
        /// Bound on message nesting in either direction.
        public var maxDepth: Int
        public init(emitDefaultValues: Bool = false, emitEmptyCollections: Bool = false, maxDepth: Int = 64) {
            self.emitDefaultValues = emitDefaultValues
            self.emitEmptyCollections = emitEmptyCollections
            self.maxDepth = maxDepth
        }
    }

    public let descriptors: DescriptorSet
    public var options: Options

    public init(descriptors: DescriptorSet, options: Options = Options()) {
        self.descriptors = descriptors
        self.options = options
    }

    /// JSON text → protobuf bytes. Syntax errors and mismatches both surface as `TranscodingError`.
    public func protobuf(fromJSONText bytes: [UInt8], messageType: String) throws(TranscodingError) -> [UInt8] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes, maxDepth: options.maxDepth)
        } catch {
            throw TranscodingError(path: "", message: error.description)
        }
        return try protobuf(fromJSON: value, messageType: messageType)
    }

    public func protobuf(fromJSON value: JSONValue, messageType: String) throws(TranscodingError) -> [UInt8] {
        guard let message = descriptors.message(messageType) else {
            throw TranscodingError(path: "", message: "unknown message type \(messageType)")
        }
        var encoder = JSONToProto(descriptors: descriptors, maxDepth: options.maxDepth)
        return try encoder.encodeMessage(value, message, path: "", depth: 0)
    }

    public func json(fromProtobuf bytes: [UInt8], messageType: String) throws(TranscodingError) -> JSONValue {
        guard let message = descriptors.message(messageType) else {
            throw TranscodingError(path: "", message: "unknown message type \(messageType)")
        }
        let decoder = ProtoToJSON(descriptors: descriptors, options: options)
        return try decoder.decodeMessage(ProtoReader(bytes), message, path: "", depth: 0)
    }

    public func jsonText(fromProtobuf bytes: [UInt8], messageType: String, pretty: Bool = false) throws(TranscodingError) -> [UInt8] {
        JSONWriter.serialize(try json(fromProtobuf: bytes, messageType: messageType), pretty: pretty)
    }
}

enum WellKnownType {
    static let timestamp = "google.protobuf.Timestamp"
    static let duration = "google.protobuf.Duration"
    static let fieldMask = "google.protobuf.FieldMask"
    static let structType = "google.protobuf.Struct"
    static let value = "google.protobuf.Value"
    static let listValue = "google.protobuf.ListValue"
    static let nullValue = "google.protobuf.NullValue"
    static let any = "google.protobuf.Any"
    static let empty = "google.protobuf.Empty"
    static let wrappers: Set<String> = [
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
    ]
    /// Types whose JSON form is not an object of their fields.
    static func hasSpecialJSON(_ name: String) -> Bool {
        [timestamp, duration, fieldMask, structType, value, listValue, any].contains(name) || wrappers.contains(name)
    }

    static func snakeCase(_ camel: Substring) -> String {
        var out = ""
        for c in camel {
            if c.isUppercase {
                out += "_" + c.lowercased()
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension String {
    func appendingField(_ name: String) -> String { isEmpty ? name : "\(self).\(name)" }
}
