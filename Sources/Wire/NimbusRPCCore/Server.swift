import Synchronization

/// What a server handler knows about its call, and where it puts response metadata.
public final class ServerContext: Sendable {
    public let method: MethodDescriptor
    /// Request metadata (custom headers; pseudo-headers and gRPC reserved ones removed).
    public let metadata: Metadata
    /// When the caller stops waiting (`grpc-timeout`); the transport cancels the handler then.
    public let deadline: ContinuousClock.Instant?
    /// The peer's address, e.g. `127.0.0.1:53412`.
    public let peer: String

    /// Nil until a handler adds any: most calls add nothing (and then nothing is built or
    /// destroyed for them).
    private let response = Mutex<ResponseMetadata?>(nil)
    /// Set once anything is added, so the transport reads neither list otherwise (no lock).
    private let hasResponseMetadata = Atomic<Bool>(false)

    private struct ResponseMetadata {
        var headers = Metadata()
        var trailers = Metadata()
    }

    public init(method: MethodDescriptor, metadata: Metadata, deadline: ContinuousClock.Instant?, peer: String) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
    }

    /// Adds response header metadata; only effective before the first response message.
    public func addResponseHeader(_ key: String, value: Metadata.Value) {
        response.withLock { response in
            if response == nil { response = ResponseMetadata() }
            response!.headers.add(key, value: value)
        }
        hasResponseMetadata.store(true, ordering: .releasing)
    }
    /// Adds trailing metadata, sent with the status.
    public func addTrailer(_ key: String, value: Metadata.Value) {
        response.withLock { response in
            if response == nil { response = ResponseMetadata() }
            response!.trailers.add(key, value: value)
        }
        hasResponseMetadata.store(true, ordering: .releasing)
    }
    public var responseHeaders: Metadata {
        guard hasResponseMetadata.load(ordering: .acquiring) else { return Metadata() }
        return response.withLock { $0?.headers ?? Metadata() }
    }
    public var responseTrailers: Metadata {
        guard hasResponseMetadata.load(ordering: .acquiring) else { return Metadata() }
        return response.withLock { $0?.trailers ?? Metadata() }
    }
}

/// A method's handler at the byte level; generated service code builds these from typed ones.
public enum ServerHandler: Sendable {
    /// Runs on its caller's executor (the transport's: the connection's loop), so calling it
    /// costs no executor switch.
    public typealias UnaryHandler = nonisolated(nonsending) @Sendable (_ request: [UInt8], _ context: ServerContext) async throws -> [UInt8]

    /// One request, one response: the cheap path.
    case unary(UnaryHandler)
    /// Any streaming kind: read requests, write responses, return to end with OK.
    case streaming(@Sendable (_ requests: RPCMessageStream<[UInt8]>, _ responses: RPCMessageWriter<[UInt8]>, _ context: ServerContext) async throws -> Void)
}

public struct ServerMethod: Sendable {
    public var descriptor: MethodDescriptor
    public var handler: ServerHandler

    public init(_ descriptor: MethodDescriptor, handler: ServerHandler) {
        self.descriptor = descriptor
        self.handler = handler
    }
}

/// A service a server can host. Generated service protocols refine this and provide both
/// requirements in an extension, so an implementation only writes its typed methods.
public protocol RPCService: Sendable {
    /// Fully qualified service name.
    var serviceName: String { get }
    var methods: [ServerMethod] { get }
    /// The `.proto` file that declares the service followed by its transitive dependencies.
    var fileDescriptors: [ProtoFileDescriptor] { get }
}
