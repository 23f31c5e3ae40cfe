import NimbusRPCCore
import Synchronization

/// An in-process transport: calls go straight to `ServerMethod` handlers through the same
/// byte-level API the wire server uses, so the gateway's forwarding runs unchanged without sockets.
struct LoopbackTransport: RPCClientTransport {
    let methods: [String: ServerMethod]
    let peer: String

    init(_ methods: [ServerMethod], peer: String = "127.0.0.1:1") {
        var table: [String: ServerMethod] = [:]
        for method in methods { table[method.descriptor.path] = method }
        self.methods = table
        self.peer = peer
    }

    private func context(_ method: MethodDescriptor, _ options: CallOptions) -> ServerContext {
        ServerContext(method: method, metadata: options.metadata,
                      deadline: options.timeout.map { ContinuousClock.now + $0 }, peer: peer)
    }

    func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        guard let server = methods[method.path], case .unary(let handler) = server.handler else {
            throw RPCError(.unimplemented, "Method not found: \(method.path)")
        }
        let context = context(method, options)
        let response = try await handler(request, context)
        return RPCResponse(message: response, initialMetadata: context.responseHeaders, trailingMetadata: context.responseTrailers)
    }

    func streaming<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result {
        try await streaming(method, options: options, requests: requests, contextSeen: { _ in }, responses: responses)
    }

    /// The handler runs to completion before `responses` reads, so its context's response
    /// metadata is complete by then.
    private func streaming<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        contextSeen: (ServerContext) -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result {
        guard let server = methods[method.path] else { throw RPCError(.unimplemented, "Method not found: \(method.path)") }
        var requestMessages: [[UInt8]] = []
        let collector = Mutex<[[UInt8]]>([])
        try await requests(RPCMessageWriter { message in collector.withLock { $0.append(message) } })
        requestMessages = collector.withLock { $0 }
        let output = Mutex<[[UInt8]]>([])
        let context = context(method, options)
        contextSeen(context)
        switch server.handler {
        case .unary(let handler):
            output.withLock { $0 = [] }
            let response = try await handler(requestMessages.first ?? [], context)
            output.withLock { $0.append(response) }
        case .streaming(let handler):
            let pending = Mutex(requestMessages[...])
            try await handler(RPCMessageStream { pending.withLock { $0.popFirst() } },
                              RPCMessageWriter { message in output.withLock { $0.append(message) } }, context)
        }
        let results = Mutex(output.withLock { $0 }[...])
        return try await responses(RPCMessageStream { results.withLock { $0.popFirst() } })
    }

    func proxyStreaming<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>, @escaping @Sendable () async -> Metadata) async throws -> Result
    ) async throws -> (result: Result, trailingMetadata: Metadata) {
        let seen = Mutex<ServerContext?>(nil)
        let result = try await streaming(method, options: options, requests: requests, contextSeen: { context in seen.withLock { $0 = context } }) {
            let headers = seen.withLock { $0?.responseHeaders } ?? [:]
            return try await responses($0, { headers })
        }
        return (result, seen.withLock { $0?.responseTrailers } ?? [:])
    }
}
