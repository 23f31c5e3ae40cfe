import Foundation
import NimbusRPCCore

/// Every failure of a `ContainerRuntime` call: what kind, what was being done, and the engine's
/// own message. The kinds the service acts on are distinct codes (`engineUnreachable` becomes
/// UNAVAILABLE, `notFound` NOT_FOUND, `conflict` FAILED_PRECONDITION).
public struct ContainerRuntimeError: Error, Sendable, CustomStringConvertible, RPCErrorConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The engine's socket does not answer (not running, wrong path, connection lost).
        public static let engineUnreachable = Code(name: "engine unreachable")
        /// No such container, image or network (HTTP 404).
        public static let notFound = Code(name: "not found")
        /// The object is in a state that refuses the call: in use, already exists, not running
        /// (HTTP 409).
        public static let conflict = Code(name: "conflict")
        /// The engine rejected the request as malformed (HTTP 400).
        public static let invalidRequest = Code(name: "invalid request")
        /// The engine failed internally (HTTP 5xx and anything else unexpected).
        public static let engineFailure = Code(name: "engine failure")
        /// The engine answered something this client does not understand.
        public static let invalidResponse = Code(name: "invalid response")
        /// The call took longer than its deadline.
        public static let timeout = Code(name: "timeout")
        public var description: String { name }
    }

    public var code: Code
    /// The operation, e.g. "start container 3f2a…".
    public var operation: String
    public var message: String
    /// The HTTP status when the engine answered.
    public var httpStatus: Int?

    public init(_ code: Code, operation: String, message: String, httpStatus: Int? = nil) {
        self.code = code
        self.operation = operation
        self.message = message
        self.httpStatus = httpStatus
    }

    public var description: String {
        let status = httpStatus.map { " (HTTP \($0))" } ?? ""
        return "container engine: \(operation): \(code)\(status): \(message)"
    }

    public var rpcError: RPCError {
        let code: RPCCode = switch self.code {
        case .engineUnreachable: .unavailable
        case .notFound: .notFound
        case .conflict: .failedPrecondition
        case .invalidRequest: .invalidArgument
        case .timeout: .deadlineExceeded
        default: .internal
        }
        return RPCError(code, code == .unavailable ? "the container engine is unavailable" : "\(operation): \(message)", cause: self)
    }
}
