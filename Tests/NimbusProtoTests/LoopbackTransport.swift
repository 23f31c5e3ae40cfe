import NimbusRPCCore

/// Connects generated clients directly to a service's byte-level handlers in the same process,
/// so the stubs' encoding and stream plumbing are tested without a network (the HTTP/2
/// transport has its own tests against real gRPC peers).
struct LoopbackTransport: RPCClientTransport {
    let methods: [String: ServerMethod]

    init(_ service: any RPCService) {
        methods = Dictionary(uniqueKeysWithValues: service.methods.map { ($0.descriptor.path, $0) })
    }

    private func context(_ method: MethodDescriptor, _ options: CallOptions) -> ServerContext {
        ServerContext(method: method, metadata: options.metadata, deadline: nil, peer: "loopback")
    }

    func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        guard case .unary(let handler)? = methods[method.path]?.handler else {
            throw RPCError(.unimplemented, "\(method.path) is not a unary method here")
        }
        let context = context(method, options)
        do {
            let response = try await handler(request, context)
            return RPCResponse(message: response, initialMetadata: context.responseHeaders, trailingMetadata: context.responseTrailers)
        } catch {
            throw RPCError(mapping: error)
        }
    }

    func streaming<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result {
        let context = context(method, options)
        let requestPipe = Pipe()
        let responsePipe = Pipe()
        let handler: ServerHandler? = methods[method.path]?.handler
        let server = Task {
            do {
                switch handler {
                case .streaming(let body)?:
                    try await body(requestPipe.stream, responsePipe.writer, context)
                case .unary(let body)?:
                    var iterator = requestPipe.stream.makeAsyncIterator()
                    guard let request = try await iterator.next() else { throw RPCError(.internal, "no request") }
                    try await responsePipe.writer.write(try await body(request, context))
                case nil:
                    throw RPCError(.unimplemented, method.path)
                }
                responsePipe.finish(throwing: nil)
            } catch {
                responsePipe.finish(throwing: RPCError(mapping: error))
            }
        }
        let client = Task {
            do {
                try await requests(requestPipe.writer)
                requestPipe.finish(throwing: nil)
            } catch {
                requestPipe.finish(throwing: RPCError(.cancelled, "client stopped sending", cause: error))
            }
        }
        defer { server.cancel(); client.cancel() }
        return try await responses(responsePipe.stream)
    }
}

/// An unbounded in-memory message pipe with a writer and a stream end.
private final class Pipe: Sendable {
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private let reader: Reader

    init() {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        self.continuation = continuation
        self.reader = Reader(stream.makeAsyncIterator())
    }

    var writer: RPCMessageWriter<[UInt8]> {
        RPCMessageWriter { [continuation] message in continuation.yield(message) }
    }

    var stream: RPCMessageStream<[UInt8]> {
        RPCMessageStream { [reader] in try await reader.iterator.next() }
    }

    /// A stream has one consumer that reads sequentially, so the iterator needs no lock.
    private final class Reader: @unchecked Sendable {
        var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
        init(_ iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator) { self.iterator = iterator }
    }

    func finish(throwing error: (any Error)?) {
        continuation.finish(throwing: error)
    }
}
