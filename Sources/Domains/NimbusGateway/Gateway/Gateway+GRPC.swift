import Logging
import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

/// One upstream service re-served by the gateway: every method forwards, bytes unchanged.
struct ProxyService: RPCService {
    let serviceName: String
    let methods: [ServerMethod]
    let fileDescriptors: [ProtoFileDescriptor]
}

extension Gateway {
    /// A pass-through `RPCService` for every upstream service, for the gateway's gRPC server.
    /// `fileDescriptors` lets the server offer reflection for them.
    public func proxyServices(fileDescriptors: [ProtoFileDescriptor] = []) -> [any RPCService] {
        upstreams.keys.sorted().compactMap { name -> (any RPCService)? in
            guard let service = descriptors.service(name) else { return nil }
            let methods = service.methods.compactMap { method -> ServerMethod? in
                let descriptor = service.rpcMethod(method)
                if configuration.internalMethods.contains(descriptor.path) { return nil }
                let methodMetrics = MethodMetrics(route: descriptor.path)
                if descriptor.kind == .unary {
                    return ServerMethod(descriptor, handler: .unary { [self] request, context in
                        try await forwardUnary(descriptor, request: request, context: context, metrics: methodMetrics)
                    })
                }
                return ServerMethod(descriptor, handler: .streaming { [self] requests, responses, context in
                    try await forwardStreaming(descriptor, requests: requests, responses: responses, context: context, metrics: methodMetrics)
                })
            }
            return ProxyService(serviceName: name, methods: methods, fileDescriptors: fileDescriptors)
        }
    }

    private func prepare(_ method: MethodDescriptor, path: String?, context: ServerContext) async throws -> (CallOptions, RequestIdentity, AuthenticatedCaller?) {
        let incoming = IncomingFields(context.metadata)
        let identity = RequestIdentity(requestID: incoming.requestID, traceparent: incoming.traceparent)
        context.addResponseHeader("x-request-id", value: .string(identity.requestID))
        let caller = try await admit(method: path ?? method.path,
                                     credentials: Credentials.extract(authorization: incoming.authorization, apiKeyHeader: incoming.apiKey),
                                     peer: context.peer, identity: identity)
        var timeout: Duration?
        if let deadline = context.deadline {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw RPCError(.deadlineExceeded, "deadline exceeded before forwarding") }
            timeout = remaining
        }
        let metadata = Self.forwardedMetadata(context.metadata, identity: identity, caller: caller, peer: context.peer)
        return (CallOptions(metadata: metadata, timeout: timeout), identity, caller)
    }

    func forwardUnary(_ method: MethodDescriptor, request: [UInt8], context: ServerContext,
                      metrics methodMetrics: MethodMetrics? = nil) async throws -> [UInt8] {
        let started = ContinuousClock.now
        var code = RPCCode.ok
        defer { recordRPC(method, code: code, since: started, methodMetrics) }
        do {
            let (options, _, _) = try await prepare(method, path: methodMetrics?.route, context: context)
            let response = try await unaryUpstream(method, request: request, options: options)
            didForward(method)
            for (key, value) in response.initialMetadata where key != "x-request-id" { context.addResponseHeader(key, value: value) }
            for (key, value) in response.trailingMetadata { context.addTrailer(key, value: value) }
            return response.message
        } catch {
            let rpcError = RPCError(mapping: error)
            code = rpcError.code
            if let cause = rpcError.cause, [.unavailable, .internal, .unknown].contains(code) {
                logger.warning("upstream failure", metadata: ["rpc.method": "\(method.path)", "error": "\(rpcError): \(cause)"])
            }
            throw error
        }
    }

    func forwardStreaming(_ method: MethodDescriptor, requests: RPCMessageStream<[UInt8]>,
                          responses: RPCMessageWriter<[UInt8]>, context: ServerContext,
                          metrics methodMetrics: MethodMetrics? = nil) async throws {
        let started = ContinuousClock.now
        var code = RPCCode.ok
        defer { recordRPC(method, code: code, since: started, methodMetrics) }
        do {
            let (options, _, _) = try await prepare(method, path: methodMetrics?.route, context: context)
            let (_, trailers) = try await upstream(for: method.service).proxyStreaming(method, options: options, requests: { writer in
                for try await message in requests { try await writer.write(message) }
            }, responses: { stream, headers in
                // The upstream's response headers leave with our first message, so copy them first.
                for (key, value) in await headers() where key != "x-request-id" { context.addResponseHeader(key, value: value) }
                for try await message in stream { try await responses.write(message) }
            })
            for (key, value) in trailers { context.addTrailer(key, value: value) }
            didForward(method)
        } catch {
            code = RPCError(mapping: error).code
            throw error
        }
    }

    private func recordRPC(_ method: MethodDescriptor, code: RPCCode, since started: ContinuousClock.Instant,
                           _ methodMetrics: MethodMetrics?) {
        let elapsed = ContinuousClock.now - started
        if let methodMetrics {
            let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            methodMetrics.record(code: code.rawValue, status: code.description, nanoseconds: nanoseconds)
            return
        }
        metrics.record(face: "grpc", route: method.path, status: code.description,
                       nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}

/// The four request fields the gateway reads, found in one pass over the (lowercase) keys
/// instead of a lowercasing lookup each; the first text value of each wins, as with
/// `Metadata`'s subscript.
struct IncomingFields {
    var requestID: String?
    var traceparent: String?
    var authorization: String?
    var apiKey: String?

    init(_ metadata: Metadata) {
        for (key, value) in metadata {
            guard case .string(let text) = value else { continue }
            switch key {
            case "x-request-id": if requestID == nil { requestID = text }
            case "traceparent": if traceparent == nil { traceparent = text }
            case "authorization": if authorization == nil { authorization = text }
            case "x-api-key": if apiKey == nil { apiKey = text }
            default: break
            }
        }
    }
}
