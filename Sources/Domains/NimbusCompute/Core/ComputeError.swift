import NimbusPostgres
import NimbusRPCCore

/// A domain error with the status it ends an RPC with. Messages are safe to show the caller.
public struct ComputeError: Error, Sendable, CustomStringConvertible, RPCErrorConvertible {
    public var code: RPCCode
    public var message: String

    public init(_ code: RPCCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
    public var rpcError: RPCError { RPCError(code, message, cause: self) }

    static func invalid(_ message: String) -> ComputeError { ComputeError(.invalidArgument, message) }
    /// Also for another tenant's resource: never reveal that it exists.
    static func notFound(_ what: String) -> ComputeError { ComputeError(.notFound, "\(what) not found") }
    static func precondition(_ message: String) -> ComputeError { ComputeError(.failedPrecondition, message) }
    static let staleVersion = ComputeError(.aborted, "the resource changed meanwhile (version mismatch); read it again and retry")

    /// Constraint violations by name → what the caller did wrong.
    static func mapping(_ error: PostgresError) -> any Error {
        switch (error.kind, error.constraint) {
        case (.uniqueViolation, "instances_tenant_name_unique"?): ComputeError(.alreadyExists, "an instance with this name already exists")
        case (.uniqueViolation, "vpcs_tenant_name_unique"?): ComputeError(.alreadyExists, "a VPC with this name already exists")
        case (.uniqueViolation, "images_tenant_name_unique"?), (.uniqueViolation, "images_reference_unique"?):
            ComputeError(.alreadyExists, "an image with this name already exists")
        case (.checkViolation, let constraint?): ComputeError(.invalidArgument, "invalid value (\(constraint))")
        case (.foreignKeyViolation, _): ComputeError(.failedPrecondition, "a referenced resource does not exist")
        default: error
        }
    }
}

extension InvalidTransition: RPCErrorConvertible {
    public var rpcError: RPCError { RPCError(.failedPrecondition, description, cause: self) }
}
