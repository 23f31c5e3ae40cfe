/// A protobuf message as plain Swift values. Generated types conform; the wire deals in the
/// encoded bytes only.
public protocol ProtoMessage: Sendable {
    /// Fully qualified protobuf name, e.g. `nimbus.identity.v1.User`.
    static var protoMessageName: String { get }
    init()
    /// Decodes the protobuf binary encoding; throws `ProtoDecodingError` on malformed bytes.
    init(serializedBytes: [UInt8]) throws
    /// The protobuf binary encoding.
    func serializedBytes() -> [UInt8]
}

public struct ProtoDecodingError: Error, Sendable, CustomStringConvertible, RPCErrorConvertible {
    public var messageName: String
    /// What exactly is wrong, when the decoder knows (safe to show the caller).
    public var reason: String?
    public init(messageName: String, reason: String? = nil) {
        self.messageName = messageName
        self.reason = reason
    }
    public var description: String {
        if let reason { return "malformed \(messageName) message: \(reason)" }
        return "malformed \(messageName) message"
    }
    public var rpcError: RPCError { RPCError(.invalidArgument, description) }
}

/// One `.proto` file's serialized `FileDescriptorProto`, for server reflection and for the
/// gateway's JSON transcoding.
public struct ProtoFileDescriptor: Sendable {
    public var name: String
    public var serialized: [UInt8]
    public var dependencies: [String]
    /// Fully qualified names of the messages, enums and services it declares.
    public var symbols: [String]

    public init(name: String, serialized: [UInt8], dependencies: [String], symbols: [String]) {
        self.name = name
        self.serialized = serialized
        self.dependencies = dependencies
        self.symbols = symbols
    }
}
