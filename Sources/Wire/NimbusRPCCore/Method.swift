/// How many messages flow each way.
public enum RPCKind: Sendable, Hashable {
    case unary, clientStreaming, serverStreaming, bidirectionalStreaming
}

/// One RPC method: `/<service>/<method>` on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Fully qualified service name, e.g. `nimbus.identity.v1.Users`.
    public var service: String
    /// Method name as declared in the proto, e.g. `CreateUser`.
    public var method: String
    public var kind: RPCKind

    public init(service: String, method: String, kind: RPCKind) {
        self.service = service
        self.method = method
        self.kind = kind
    }

    /// The HTTP/2 `:path`.
    public var path: String { "/\(service)/\(method)" }
    public var description: String { path }
}
