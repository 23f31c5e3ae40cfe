/// A gRPC status code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
public struct RPCCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let ok = RPCCode(rawValue: 0)
    public static let cancelled = RPCCode(rawValue: 1)
    public static let unknown = RPCCode(rawValue: 2)
    public static let invalidArgument = RPCCode(rawValue: 3)
    public static let deadlineExceeded = RPCCode(rawValue: 4)
    public static let notFound = RPCCode(rawValue: 5)
    public static let alreadyExists = RPCCode(rawValue: 6)
    public static let permissionDenied = RPCCode(rawValue: 7)
    public static let resourceExhausted = RPCCode(rawValue: 8)
    public static let failedPrecondition = RPCCode(rawValue: 9)
    public static let aborted = RPCCode(rawValue: 10)
    public static let outOfRange = RPCCode(rawValue: 11)
    public static let unimplemented = RPCCode(rawValue: 12)
    public static let `internal` = RPCCode(rawValue: 13)
    public static let unavailable = RPCCode(rawValue: 14)
    public static let dataLoss = RPCCode(rawValue: 15)
    public static let unauthenticated = RPCCode(rawValue: 16)

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]
    public var description: String {
        Self.names.indices.contains(rawValue) ? Self.names[rawValue] : "CODE(\(rawValue))"
    }
}

/// The error every RPC ends with when it does not end OK: a code, a message safe to show the
/// caller (never a secret), optional trailing metadata and the underlying cause for logs.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    public var code: RPCCode
    public var message: String
    public var metadata: Metadata
    public var cause: (any Error)?

    public init(_ code: RPCCode, _ message: String, metadata: Metadata = [:], cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    public var description: String { "\(code): \(message)" }
}

/// Domain errors conform to this to say which status they end an RPC with.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError {
    /// Maps any error to the status it should end an RPC with: an `RPCError` as is, a
    /// convertible one by its own rule, cancellation as CANCELLED, anything else INTERNAL
    /// without leaking its text.
    public init(mapping error: any Error) {
        switch error {
        case let error as RPCError: self = error
        case let error as any RPCErrorConvertible: self = error.rpcError
        case is CancellationError: self = RPCError(.cancelled, "the call was cancelled", cause: error)
        default: self = RPCError(.internal, "internal error", cause: error)
        }
    }
}
