import NimbusRPCCore

/// Turns a matched REST request into the RPC's request message and the RPC's response into the
/// REST response body, following the route's `google.api.http` rule: path variables, then the
/// body (`*` or one field), then query parameters for everything else.
public struct RESTTranscoder: Sendable {
    public let transcoder: ProtoJSONTranscoder
    private let defaultsTranscoder: ProtoJSONTranscoder

    public init(descriptors: DescriptorSet, options: ProtoJSONTranscoder.Options = .init()) {
        transcoder = ProtoJSONTranscoder(descriptors: descriptors, options: options)
        var loud = options
        loud.emitDefaultValues = true
        defaultsTranscoder = ProtoJSONTranscoder(descriptors: descriptors, options: loud)
    }

    private var descriptors: DescriptorSet { transcoder.descriptors }

    /// The request message's protobuf bytes. Every problem is a 400 (or 415) naming what is wrong.
    public func requestMessage(for match: RouteMatch, query: String?, body: [UInt8],
                               contentType: String?) throws(HTTPProblem) -> [UInt8] {
        let route = match.route
        guard let message = descriptors.message(route.method.inputType) else {
            throw HTTPProblem(status: 500, code: .internal, detail: "no descriptor for \(route.method.inputType)")
        }
        var object = JSONObject()
        let hasBody = !body.allSatisfy { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if route.rule.body.isEmpty {
            guard !hasBody else { throw .invalidArgument("\(route.rule.method) \(route.template) takes no request body") }
        } else if hasBody {
            try checkContentType(contentType)
            let parsed: JSONValue
            do {
                parsed = try JSONParser.parse(body, maxDepth: transcoder.options.maxDepth)
            } catch {
                throw .invalidArgument("request body: \(error)")
            }
            if route.rule.body == "*" {
                guard case .object(let bodyObject) = parsed else {
                    throw .invalidArgument("request body must be a JSON object")
                }
                object = bodyObject
            } else {
                try set(route.rule.body.split(separator: ".").map(String.init), to: parsed, in: &object, message: message, origin: "body")
            }
        }
        var bound: Set<String> = []
        for binding in match.pathBindings {
            let field = try resolve(binding.fieldPath, in: message, origin: "path")
            try set(binding.fieldPath, to: try parameterValue(binding.value, field, name: binding.fieldPath.joined(separator: ".")),
                    in: &object, message: message, origin: "path")
            bound.insert(binding.fieldPath.joined(separator: "."))
        }
        if let query, !query.isEmpty {
            guard route.rule.body != "*" else {
                throw .invalidArgument("\(route.rule.method) \(route.template) takes its fields in the body, not the query string")
            }
            var repeatedSeen: Set<String> = []
            for pair in query.split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = HTTPRouter.percentDecode(String(parts[0]), plusIsSpace: true),
                      let value = HTTPRouter.percentDecode(parts.count > 1 ? String(parts[1]) : "", plusIsSpace: true) else {
                    throw .invalidArgument("malformed percent-encoding in query parameter \(parts[0].prefix(60))")
                }
                let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                let field = try resolve(path, in: message, origin: "query")
                let canonical = path.joined(separator: ".")
                if bound.contains(canonical) { throw .invalidArgument("query parameter \(key) is already set by the path") }
                if let bodyRoot = route.rule.body.split(separator: ".").first, message.field(named: path[0])?.name == String(bodyRoot) {
                    throw .invalidArgument("query parameter \(key) is part of the request body")
                }
                if !field.isRepeated {
                    guard repeatedSeen.insert(canonical).inserted else {
                        throw .invalidArgument("query parameter \(key) given more than once")
                    }
                }
                try set(path, to: try parameterValue(value, field, name: key), in: &object, message: message,
                        origin: "query", append: field.isRepeated)
            }
        }
        do {
            return try transcoder.protobuf(fromJSON: .object(object), messageType: message.fullName)
        } catch {
            throw .invalidArgument(error.description)
        }
    }

    /// The REST response body (JSON bytes) for the RPC's response bytes.
    public func responseBody(for route: RESTRoute, response: [UInt8]) throws(HTTPProblem) -> [UInt8] {
        do {
            guard !route.rule.responseBody.isEmpty else {
                return try transcoder.jsonText(fromProtobuf: response, messageType: route.method.outputType)
            }
            let json = try defaultsTranscoder.json(fromProtobuf: response, messageType: route.method.outputType)
            let field = descriptors.message(route.method.outputType)?.field(named: route.rule.responseBody)
            return JSONWriter.serialize(json[field?.jsonName ?? route.rule.responseBody] ?? .null)
        } catch {
            throw HTTPProblem(status: 502, code: .internal, detail: "the service answered with a malformed message")
        }
    }

    private func checkContentType(_ contentType: String?) throws(HTTPProblem) {
        guard let contentType else { return }  // curl -d without -H: be lenient, the body must still be JSON
        let media = contentType.split(separator: ";").first.map { $0.trimmingSpaces().lowercased() } ?? ""
        guard media == "application/json" || media.hasSuffix("+json") else {
            throw HTTPProblem(status: 415, code: .invalidArgument,
                              detail: "request bodies must be application/json, not \(contentType.prefix(60))")
        }
    }

    /// The field a dotted path names, checking each step is a singular message.
    private func resolve(_ path: [String], in message: MessageDescriptor, origin: String) throws(HTTPProblem) -> FieldDescriptor {
        var current = message
        for (i, name) in path.enumerated() {
            guard let field = current.field(named: name) else {
                throw .invalidArgument("unknown \(origin) parameter \(path.joined(separator: ".")): \(current.fullName) has no field \(name)")
            }
            if i == path.count - 1 { return field }
            guard field.type == .message, !field.isRepeated, let typeName = field.typeName,
                  let next = descriptors.message(typeName), !WellKnownType.hasSpecialJSON(typeName) else {
                throw .invalidArgument("\(origin) parameter \(path.joined(separator: ".")): \(name) is not a message field")
            }
            current = next
        }
        throw .invalidArgument("empty \(origin) parameter name")
    }

    /// Path and query values are text; give the transcoder the JSON form it expects.
    private func parameterValue(_ text: String, _ field: FieldDescriptor, name: String) throws(HTTPProblem) -> JSONValue {
        switch field.type {
        case .bool:
            switch text {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default: throw .invalidArgument("parameter \(name) must be true or false")
            }
        case .enum:
            if !text.isEmpty, text.allSatisfy({ $0.isASCIIDigit || $0 == "-" }) { return .number(text) }
            return .string(text)
        case .message:
            guard let typeName = field.typeName else { break }
            if WellKnownType.wrappers.contains(typeName), let inner = descriptors.message(typeName)?.field(number: 1) {
                return try parameterValue(text, inner, name: name)
            }
            if [WellKnownType.timestamp, WellKnownType.duration, WellKnownType.fieldMask].contains(typeName) {
                return .string(text)
            }
            throw .invalidArgument("parameter \(name) is a message and cannot be given as text")
        default:
            if field.typeName != nil, mapLike(field) { throw .invalidArgument("map parameter \(name) cannot be given as text") }
            return .string(text)
        }
        return .string(text)
    }

    private func mapLike(_ field: FieldDescriptor) -> Bool {
        guard let typeName = field.typeName else { return false }
        return descriptors.message(typeName)?.isMapEntry ?? false
    }

    /// Sets (or appends to) the value at a field path, creating intermediate objects.
    private func set(_ path: [String], to value: JSONValue, in object: inout JSONObject, message: MessageDescriptor,
                     origin: String, append: Bool = false) throws(HTTPProblem) {
        guard let name = path.first, let field = message.field(named: name) else {
            throw .invalidArgument("unknown \(origin) field \(path.joined(separator: "."))")
        }
        // Normalize to the JSON name, dropping any spelling of the same field in the body.
        let existing = object[field.jsonName] ?? object[field.name]
        object[field.name] = nil
        if path.count == 1 {
            if append {
                var elements: [JSONValue] = []
                if case .array(let earlier)? = existing { elements = earlier }
                elements.append(value)
                object[field.jsonName] = .array(elements)
            } else {
                object[field.jsonName] = value
            }
            return
        }
        guard let typeName = field.typeName, let inner = descriptors.message(typeName) else {
            throw .invalidArgument("\(origin) field \(path.joined(separator: ".")): \(name) is not a message")
        }
        var nested = JSONObject()
        if case .object(let earlier)? = existing { nested = earlier }
        try set(Array(path.dropFirst()), to: value, in: &nested, message: inner, origin: origin, append: append)
        object[field.jsonName] = .object(nested)
    }
}

extension Substring {
    /// Without leading and trailing spaces. Byte-wise (a space is one UTF-8 byte and never part
    /// of another character), so it costs a scan, not generic Character iteration: it runs on
    /// every request's credentials.
    func trimmingSpaces() -> String {
        let bytes = utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 { start = bytes.index(after: start) }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == 0x20 else { break }
            end = last
        }
        return String(self[start..<end])
    }
}
