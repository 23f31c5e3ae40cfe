import NimbusRPCCore

/// Builds the OpenAPI 3.1 document for the REST face from the same descriptors and HTTP rules
/// the router uses, so the description cannot drift from what the gateway serves.
public struct OpenAPIGenerator: Sendable {
    public struct Info: Sendable {
        public var title: String
        public var version: String
        public var description: String
        public init(title: String = "Nimbus API", version: String, description: String = "") {
            self.title = title
            self.version = version
            self.description = description
        }
    }

    public let descriptors: DescriptorSet
    public let router: HTTPRouter
    public let info: Info
    /// gRPC paths (`/pkg.Service/Method`) callable without an API key (the login route).
    public let publicMethods: Set<String>

    public init(descriptors: DescriptorSet, router: HTTPRouter, info: Info, publicMethods: Set<String> = []) {
        self.descriptors = descriptors
        self.router = router
        self.info = info
        self.publicMethods = publicMethods
    }

    public func document() -> JSONValue {
        var schemas = SchemaBuilder(descriptors: descriptors)
        var paths: [String: JSONObject] = [:]
        var operationIDs: Set<String> = []
        var tags: [String: String?] = [:]

        for route in router.routes.sorted(by: { ($0.template.text, $0.rule.method) < ($1.template.text, $1.rule.method) }) {
            let (path, pathParameters) = openAPIPath(route, schemas: &schemas)
            let verb = route.rule.method.lowercased()
            guard ["get", "put", "post", "delete", "patch"].contains(verb), paths[path]?[verb] == nil else { continue }
            var operationID = "\(route.service.name)_\(route.method.name)"
            var suffix = 1
            while operationIDs.contains(operationID) {
                operationID = "\(route.service.name)_\(route.method.name)_\(suffix)"
                suffix += 1
            }
            operationIDs.insert(operationID)
            tags[route.service.name] = route.service.comment
            var operation: JSONObject = [
                "operationId": .string(operationID),
                "tags": .array([.string(route.service.name)]),
            ]
            if let comment = route.method.comment {
                operation["summary"] = .string(String(comment.split(separator: "\n").first ?? ""))
                operation["description"] = .string(comment)
            }
            if route.method.deprecated { operation["deprecated"] = .bool(true) }
            let parameters = pathParameters + queryParameters(route, schemas: &schemas)
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if !route.rule.body.isEmpty, let input = descriptors.message(route.method.inputType) {
                let schema: JSONValue
                if route.rule.body == "*" {
                    schema = schemas.reference(input.fullName)
                } else if let field = input.field(named: route.rule.body) {
                    schema = schemas.fieldSchema(field)
                } else {
                    schema = .object([:])
                }
                operation["requestBody"] = .object([
                    "required": .bool(false),
                    "content": .object(["application/json": .object(["schema": schema])]),
                ])
            }
            operation["responses"] = .object([
                "200": .object([
                    "description": .string("OK"),
                    "content": .object(["application/json": .object(["schema": responseSchema(route, schemas: &schemas)])]),
                ]),
                "default": .object([
                    "description": .string("An error, as RFC 9457 problem details."),
                    "content": .object([HTTPProblem.contentType: .object(["schema": .object(["$ref": .string("#/components/schemas/Problem")])])]),
                ]),
            ])
            if publicMethods.contains(route.rpcMethod.path) { operation["security"] = .array([]) }
            paths[path, default: JSONObject()][verb] = .object(operation)
        }
        for (path, item) in operationalPaths() { paths[path] = item }

        var components = schemas.schemas
        components["Problem"] = Self.problemSchema
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string(info.title),
                "version": .string(info.version),
                "description": .string(info.description),
            ]),
            "tags": .array(tags.keys.sorted().map { name in
                var tag: JSONObject = ["name": .string(name)]
                if let description = tags[name] ?? nil { tag["description"] = .string(description) }
                return .object(tag)
            }),
            "security": .array([.object(["bearerAuth": .array([])]), .object(["apiKey": .array([])])]),
            "paths": .object(JSONObject(paths.keys.sorted().map { .init(key: $0, value: .object(paths[$0]!)) })),
            "components": .object([
                "schemas": .object(JSONObject(components.keys.sorted().map { .init(key: $0, value: components[$0]!) })),
                "securitySchemes": .object([
                    "bearerAuth": .object(["type": .string("http"), "scheme": .string("bearer"),
                                           "description": .string("An API key: Authorization: Bearer <key>")]),
                    "apiKey": .object(["type": .string("apiKey"), "in": .string("header"), "name": .string("x-api-key")]),
                ]),
            ]),
        ])
    }

    /// `/v1/{name=projects/*}:stop` → `/v1/{name}:stop` plus the path parameters.
    private func openAPIPath(_ route: RESTRoute, schemas: inout SchemaBuilder) -> (String, [JSONValue]) {
        let template = route.template
        var parts: [String] = []
        var parameters: [JSONValue] = []
        var index = 0
        let input = descriptors.message(route.method.inputType)
        var wildcard = 0
        while index < template.segments.count {
            if let variable = template.variables.first(where: { $0.segments.lowerBound == index }) {
                let name = variable.fieldPath.joined(separator: ".")
                parts.append("{\(name)}")
                var schema: JSONValue = .object(["type": .string("string")])
                if let input, let field = Self.field(at: variable.fieldPath, in: input, descriptors), field.type != .string {
                    schema = schemas.fieldSchema(field)
                }
                let covered = template.segments[variable.segments]
                if covered != [.single] {
                    let pattern = covered.map { segment -> String in
                        switch segment {
                        case .literal(let l): l
                        case .single: "[^/]+"
                        case .multi: ".+"
                        }
                    }.joined(separator: "/")
                    schema = .object(["type": .string("string"), "pattern": .string("^\(pattern)$")])
                }
                parameters.append(.object(["name": .string(name), "in": .string("path"), "required": .bool(true), "schema": schema]))
                index = variable.segments.upperBound
                continue
            }
            switch template.segments[index] {
            case .literal(let literal): parts.append(literal)
            case .single, .multi:
                wildcard += 1
                parts.append("{wildcard\(wildcard)}")
                parameters.append(.object(["name": .string("wildcard\(wildcard)"), "in": .string("path"),
                                           "required": .bool(true), "schema": .object(["type": .string("string")])]))
            }
            index += 1
        }
        return ("/" + parts.joined(separator: "/") + (template.verb.map { ":\($0)" } ?? ""), parameters)
    }

    /// Fields that neither the path nor the body fill are query parameters (scalars, enums,
    /// repeated scalars and text-form well-known types, nested messages as `a.b`).
    private func queryParameters(_ route: RESTRoute, schemas: inout SchemaBuilder) -> [JSONValue] {
        guard route.rule.body != "*", let input = descriptors.message(route.method.inputType) else { return [] }
        let bound = Set(route.template.variables.map { $0.fieldPath.joined(separator: ".") })
        var result: [JSONValue] = []
        func visit(_ message: MessageDescriptor, prefix: [String], protoPrefix: [String], seen: Set<String>) {
            for field in message.fields {
                let protoPath = protoPrefix + [field.name]
                if protoPrefix.isEmpty && field.name == route.rule.body { continue }
                if bound.contains(protoPath.joined(separator: ".")) || bound.contains((prefix + [field.jsonName]).joined(separator: ".")) { continue }
                if field.isOutputOnly { continue }
                let name = (prefix + [field.jsonName]).joined(separator: ".")
                if field.type == .message, let typeName = field.typeName {
                    if let entry = descriptors.message(typeName), entry.isMapEntry { continue }
                    if WellKnownType.hasSpecialJSON(typeName) {
                        guard !field.isRepeated, SchemaBuilder.textForm.contains(typeName) || WellKnownType.wrappers.contains(typeName) else { continue }
                    } else {
                        guard !field.isRepeated, prefix.count < 3, !seen.contains(typeName),
                              let nested = descriptors.message(typeName) else { continue }
                        visit(nested, prefix: prefix + [field.jsonName], protoPrefix: protoPath, seen: seen.union([typeName]))
                        continue
                    }
                }
                var parameter: JSONObject = ["name": .string(name), "in": .string("query"), "schema": schemas.fieldSchema(field)]
                if field.isRepeated {
                    parameter["style"] = .string("form")
                    parameter["explode"] = .bool(true)
                }
                if let comment = field.comment { parameter["description"] = .string(comment) }
                result.append(.object(parameter))
            }
        }
        visit(input, prefix: [], protoPrefix: [], seen: [input.fullName])
        return result
    }

    private func responseSchema(_ route: RESTRoute, schemas: inout SchemaBuilder) -> JSONValue {
        guard let output = descriptors.message(route.method.outputType) else { return .object([:]) }
        if route.method.serverStreaming {
            // The REST face collects a server stream into one array.
            return .object(["type": .string("array"), "items": schemas.reference(output.fullName)])
        }
        if !route.rule.responseBody.isEmpty, let field = output.field(named: route.rule.responseBody) {
            return schemas.fieldSchema(field)
        }
        return schemas.reference(output.fullName)
    }

    static func field(at path: [String], in message: MessageDescriptor, _ descriptors: DescriptorSet) -> FieldDescriptor? {
        var current = message
        for (i, name) in path.enumerated() {
            guard let field = current.field(named: name) else { return nil }
            if i == path.count - 1 { return field }
            guard let typeName = field.typeName, let next = descriptors.message(typeName) else { return nil }
            current = next
        }
        return nil
    }

    private func operationalPaths() -> [String: JSONObject] {
        func plain(_ summary: String, _ media: String = "text/plain") -> JSONObject {
            ["get": .object([
                "operationId": .string(summary.replacingSpaces()),
                "summary": .string(summary),
                "tags": .array([.string("Operations")]),
                "security": .array([]),
                "responses": .object([
                    "200": .object(["description": .string("OK"), "content": .object([media: .object(["schema": .object(["type": .string(media == "application/json" ? "object" : "string")])])])]),
                    "default": .object(["description": .string("Not ready or failing"), "content": .object([media: .object(["schema": .object([:])])])]),
                ]),
            ])]
        }
        return [
            "/healthz": plain("Liveness"),
            "/readyz": plain("Readiness"),
            "/metrics": plain("Prometheus metrics"),
            "/v1/openapi.json": plain("This document", "application/json"),
        ]
    }

    static let problemSchema: JSONValue = .object([
        "type": .string("object"),
        "description": .string("RFC 9457 problem details; code is the gRPC status name."),
        "required": .array([.string("type"), .string("title"), .string("status")]),
        "properties": .object([
            "type": .object(["type": .string("string")]),
            "title": .object(["type": .string("string")]),
            "status": .object(["type": .string("integer")]),
            "detail": .object(["type": .string("string")]),
            "instance": .object(["type": .string("string")]),
            "code": .object(["type": .string("string")]),
            "requestId": .object(["type": .string("string")]),
        ]),
    ])
}

extension String {
    fileprivate func replacingSpaces() -> String { String(map { $0 == " " ? "_" : $0 }) }
}
