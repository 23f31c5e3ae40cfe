/// Per-call options for a client.
public struct CallOptions: Sendable {
    public var metadata: Metadata
    /// Sent as `grpc-timeout` and enforced locally.
    public var timeout: Duration?

    public init(metadata: Metadata = [:], timeout: Duration? = nil) {
        self.metadata = metadata
        self.timeout = timeout
    }
}

/// A connection (or pool of them) that carries calls. The HTTP/2 client implements it;
/// generated client stubs call through it.
public protocol RPCClientTransport: Sendable {
    func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]>

    /// Runs a streaming call of any kind: `requests` writes the request messages and returns
    /// when there are no more (the transport half-closes then); `responses` consumes the
    /// response messages, and what it returns is the call's result. A non-OK status surfaces
    /// as an `RPCError` thrown from the response stream or from this function.
    func streaming<Result: Sendable>(
        _ method: MethodDescriptor,
        options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result

    /// `streaming` for pass-through proxies (the gateway): `responses` may also await the
    /// response headers (before the first message), and the trailers come back with the result.
    func proxyStreaming<Result: Sendable>(
        _ method: MethodDescriptor,
        options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (_ messages: RPCMessageStream<[UInt8]>, _ headers: @escaping @Sendable () async -> Metadata) async throws -> Result
    ) async throws -> (result: Result, trailingMetadata: Metadata)
}

extension RPCClientTransport {
    /// For transports that cannot tell response metadata: none is passed on.
    public func proxyStreaming<Result: Sendable>(
        _ method: MethodDescriptor,
        options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (_ messages: RPCMessageStream<[UInt8]>, _ headers: @escaping @Sendable () async -> Metadata) async throws -> Result
    ) async throws -> (result: Result, trailingMetadata: Metadata) {
        let result = try await streaming(method, options: options, requests: requests) { try await responses($0, { [:] }) }
        return (result, [:])
    }
}
