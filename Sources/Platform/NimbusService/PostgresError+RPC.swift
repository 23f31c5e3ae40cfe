import NimbusPostgres
import NimbusRPCCore

/// The fallback status for a database error that a repository did not turn into a domain error
/// (docs/ARCHITECTURE.md §5). Messages name the constraint at most, never row values or SQL.
extension PostgresError: RPCErrorConvertible {
    public var rpcError: RPCError {
        let what = constraint.map { " (\($0))" } ?? ""
        switch kind {
        case .uniqueViolation: return RPCError(.alreadyExists, "already exists\(what)", cause: self)
        case .foreignKeyViolation, .exclusionViolation:
            return RPCError(.failedPrecondition, "conflicts with related data\(what)", cause: self)
        case .checkViolation, .notNullViolation: return RPCError(.invalidArgument, "invalid value\(what)", cause: self)
        case .serializationFailure, .deadlockDetected:
            return RPCError(.aborted, "concurrent update, retry the call", cause: self)
        case .queryCanceled: return RPCError(.cancelled, "the database statement was cancelled", cause: self)
        case .connectionFailure, .poolTimeout, .poolClosed:
            return RPCError(.unavailable, "the database is unavailable", cause: self)
        default: return RPCError(.internal, "internal error", cause: self)
        }
    }
}
