/// Emits, for one proto service: its method descriptors, the server protocol (with the
/// byte-level `methods` built from the typed ones) and a typed client.
struct ServiceGenerator {
    let registry: TypeRegistry
    let namespace: String
    let fileEnum: String
    /// Whether `google.api.HttpRule` is available (the file imports google/api/annotations.proto).
    let hasHTTPRules: Bool

    private struct Method {
        var model: MethodModel
        var swiftName: String
        var input: String
        var output: String
        var kind: String {
            switch (model.clientStreaming, model.serverStreaming) {
            case (false, false): "unary"
            case (false, true): "serverStreaming"
            case (true, false): "clientStreaming"
            case (true, true): "bidirectionalStreaming"
            }
        }
    }

    private func methods(_ s: ServiceModel) throws -> [Method] {
        try s.methods.map { m in
            return Method(model: m, swiftName: Naming.escaped(Naming.lowerCamel(m.name)),
                          input: try registry.swiftName(m.inputType), output: try registry.swiftName(m.outputType))
        }
    }

    func emit(_ s: ServiceModel, into w: inout SwiftWriter) throws {
        let methods = try methods(s)
        let enumName = "\(s.name)Methods"
        let qualifiedMethods = "\(namespace).\(enumName)"

        w.line()
        w.block("extension \(namespace)") { w in
            w.line("/// Method descriptors of `\(s.fullName)`.")
            w.block("public enum \(enumName)") { w in
                w.line("public static let serviceName = \"\(s.fullName)\"")
                for m in methods {
                    w.line("public static let \(m.swiftName) = MethodDescriptor(service: serviceName, method: \"\(m.model.name)\", kind: .\(m.kind))")
                }
                w.line("public static let all: [MethodDescriptor] = [\(methods.map(\.swiftName).joined(separator: ", "))]")
                if hasHTTPRules {
                    let rules = methods.compactMap { m in m.model.httpRule.map { (m.swiftName, $0) } }
                    w.line("/// REST mappings declared with the `google.api.http` option (for the gateway).")
                    if rules.isEmpty {
                        w.line("public static let httpRules: [MethodDescriptor: GoogleApi.HttpRule] = [:]")
                    } else {
                        w.line("public static let httpRules: [MethodDescriptor: GoogleApi.HttpRule] = [")
                        w.indented { w in
                            for (name, bytes) in rules {
                                w.line("\(name): ProtoRuntime.embedded(GoogleApi.HttpRule.self, base64: \"\(Base64.encode(bytes))\"),")
                            }
                        }
                        w.line("]")
                    }
                }
                w.line("/// The declaring file, then its transitive dependencies.")
                w.line("public static var fileDescriptors: [ProtoFileDescriptor] { \(fileEnum).descriptorsWithDependencies }")
            }
            w.line()
            w.doc(s.comment)
            if s.comment != nil { w.line("///") }
            w.line("/// Server side of `\(s.fullName)`: implement the typed methods; `methods` wires them up.")
            w.block("public protocol \(s.name)Service: RPCService") { w in
                for m in methods {
                    w.doc(m.model.comment)
                    w.line(requirement(m))
                }
            }
            w.line()
            emitClient(s, methods, qualifiedMethods: qualifiedMethods, into: &w)
        }
        w.line()
        w.block("extension \(namespace).\(s.name)Service") { w in
            w.line("public var serviceName: String { \(qualifiedMethods).serviceName }")
            w.line("public var fileDescriptors: [ProtoFileDescriptor] { \(qualifiedMethods).fileDescriptors }")
            w.line()
            // Inlinable so the module that conforms a service specializes the handlers for its
            // type: a direct call to its method instead of a generic witness per request.
            w.line("@inlinable")
            w.block("public var methods: [ServerMethod]") { w in
                w.line("[")
                w.indented { w in
                    for m in methods { emitServerMethod(m, qualifiedMethods: qualifiedMethods, into: &w) }
                }
                w.line("]")
            }
        }
    }

    private func requirement(_ m: Method) -> String {
        switch m.kind {
        case "unary":
            "func \(m.swiftName)(_ request: \(m.input), context: ServerContext) async throws -> \(m.output)"
        case "serverStreaming":
            "func \(m.swiftName)(_ request: \(m.input), responses: RPCMessageWriter<\(m.output)>, context: ServerContext) async throws"
        case "clientStreaming":
            "func \(m.swiftName)(_ requests: RPCMessageStream<\(m.input)>, context: ServerContext) async throws -> \(m.output)"
        default:
            "func \(m.swiftName)(_ requests: RPCMessageStream<\(m.input)>, responses: RPCMessageWriter<\(m.output)>, context: ServerContext) async throws"
        }
    }

    private func emitServerMethod(_ m: Method, qualifiedMethods: String, into w: inout SwiftWriter) {
        let descriptor = "\(qualifiedMethods).\(m.swiftName)"
        let decodeRequests = "requests.map { try ProtoRPC.decodeRequest(\(m.input).self, $0) }"
        let encodeResponses = "responses.map { (response: \(m.output)) in response.serializedBytes() }"
        switch m.kind {
        case "unary":
            w.block("ServerMethod(\(descriptor), handler: .unary { bytes, context in", close: "}),") { w in
                w.line("let request = try ProtoRPC.decodeRequest(\(m.input).self, bytes)")
                w.line("return try await self.\(m.swiftName)(request, context: context).serializedBytes()")
            }
        case "serverStreaming":
            w.block("ServerMethod(\(descriptor), handler: .streaming { requests, responses, context in", close: "}),") { w in
                w.line("let request = try await ProtoRPC.singleRequest(requests, as: \(m.input).self)")
                w.line("try await self.\(m.swiftName)(request, responses: \(encodeResponses), context: context)")
            }
        case "clientStreaming":
            w.block("ServerMethod(\(descriptor), handler: .streaming { requests, responses, context in", close: "}),") { w in
                w.line("let response = try await self.\(m.swiftName)(\(decodeRequests), context: context)")
                w.line("try await responses.write(response.serializedBytes())")
            }
        default:
            w.block("ServerMethod(\(descriptor), handler: .streaming { requests, responses, context in", close: "}),") { w in
                w.line("try await self.\(m.swiftName)(\(decodeRequests), responses: \(encodeResponses), context: context)")
            }
        }
    }

    private func emitClient(_ s: ServiceModel, _ methods: [Method], qualifiedMethods: String, into w: inout SwiftWriter) {
        w.line("/// Typed client of `\(s.fullName)` over any transport.")
        w.block("public struct \(s.name)Client: Sendable") { w in
            w.line("public let transport: any RPCClientTransport")
            w.line("/// Used by calls that pass no options.")
            w.line("public var defaultOptions: CallOptions")
            w.line()
            w.block("public init(transport: any RPCClientTransport, defaultOptions: CallOptions = CallOptions())") { w in
                w.line("self.transport = transport")
                w.line("self.defaultOptions = defaultOptions")
            }
            for m in methods {
                w.line()
                let descriptor = "\(qualifiedMethods).\(m.swiftName)"
                let decode = "try ProtoRPC.decodeResponse(\(m.output).self, $0)"
                let plainName = Naming.lowerCamel(m.model.name)
                switch m.kind {
                case "unary":
                    w.line("/// `\(m.model.name)`: one request, one response.")
                    w.block("public func \(m.swiftName)(_ request: \(m.input), options: CallOptions? = nil) async throws -> \(m.output)") { w in
                        w.line("try await \(plainName)WithMetadata(request, options: options).message")
                    }
                    w.line()
                    w.line("/// `\(m.model.name)`, with the response metadata.")
                    w.block("public func \(plainName)WithMetadata(_ request: \(m.input), options: CallOptions? = nil) async throws -> RPCResponse<\(m.output)>") { w in
                        w.line("let response = try await transport.unary(\(descriptor), request: request.serializedBytes(), options: options ?? defaultOptions)")
                        w.line("return RPCResponse(")
                        w.line("    message: try ProtoRPC.decodeResponse(\(m.output).self, response.message),")
                        w.line("    initialMetadata: response.initialMetadata, trailingMetadata: response.trailingMetadata)")
                    }
                case "serverStreaming":
                    w.line("/// `\(m.model.name)`: one request; `handler` consumes the responses and its result is the call's.")
                    w.block("public func \(m.swiftName)<Result: Sendable>(_ request: \(m.input), options: CallOptions? = nil, handler: @escaping @Sendable (RPCMessageStream<\(m.output)>) async throws -> Result) async throws -> Result") { w in
                        w.line("let bytes = request.serializedBytes()")
                        w.line("return try await transport.streaming(")
                        w.line("    \(descriptor), options: options ?? defaultOptions,")
                        w.line("    requests: { writer in try await writer.write(bytes) },")
                        w.line("    responses: { stream in try await handler(stream.map { \(decode) }) })")
                    }
                    w.line()
                    w.line("/// `\(m.model.name)`, collecting every response.")
                    w.block("public func \(m.swiftName)(_ request: \(m.input), options: CallOptions? = nil) async throws -> [\(m.output)]") { w in
                        w.line("try await \(m.swiftName)(request, options: options) { try await ProtoRPC.collect($0) }")
                    }
                case "clientStreaming":
                    w.line("/// `\(m.model.name)`: `requests` writes the requests (the call half-closes when it returns); one response.")
                    w.block("public func \(m.swiftName)(options: CallOptions? = nil, requests: @escaping @Sendable (RPCMessageWriter<\(m.input)>) async throws -> Void) async throws -> \(m.output)") { w in
                        w.line("try await transport.streaming(")
                        w.line("    \(descriptor), options: options ?? defaultOptions,")
                        w.line("    requests: { writer in try await requests(writer.map { (request: \(m.input)) in request.serializedBytes() }) },")
                        w.line("    responses: { stream in try await ProtoRPC.singleResponse(stream, as: \(m.output).self) })")
                    }
                    w.line()
                    w.line("/// `\(m.model.name)` with a fixed list of requests.")
                    w.block("public func \(m.swiftName)(_ requests: [\(m.input)], options: CallOptions? = nil) async throws -> \(m.output)") { w in
                        w.line("try await \(m.swiftName)(options: options) { writer in")
                        w.line("    for request in requests { try await writer.write(request) }")
                        w.line("}")
                    }
                default:
                    w.line("/// `\(m.model.name)`: `requests` writes requests (half-close on return) while `responses` consumes responses;")
                    w.line("/// the result of `responses` is the call's.")
                    w.block("public func \(m.swiftName)<Result: Sendable>(options: CallOptions? = nil, requests: @escaping @Sendable (RPCMessageWriter<\(m.input)>) async throws -> Void, responses: @escaping @Sendable (RPCMessageStream<\(m.output)>) async throws -> Result) async throws -> Result") { w in
                        w.line("try await transport.streaming(")
                        w.line("    \(descriptor), options: options ?? defaultOptions,")
                        w.line("    requests: { writer in try await requests(writer.map { (request: \(m.input)) in request.serializedBytes() }) },")
                        w.line("    responses: { stream in try await responses(stream.map { \(decode) }) })")
                    }
                }
            }
        }
    }
}
