import NimbusRPCCore

/// The principal lacks the permission an RPC needs: PERMISSION_DENIED. (A resource of another
/// tenant is NOT_FOUND instead, decided by the query's tenant filter, never by this check.)
public struct AuthorizationError: Error, Sendable, Hashable, CustomStringConvertible, RPCErrorConvertible {
    public var permission: Permission
    public init(missing permission: Permission) { self.permission = permission }
    public var description: String { "missing permission \(permission)" }
    public var rpcError: RPCError { RPCError(.permissionDenied, description) }
}

extension Principal {
    /// Throws `AuthorizationError` (PERMISSION_DENIED) unless the principal holds `permission`.
    /// Platform admins hold every permission.
    public func require(_ permission: Permission) throws {
        guard has(permission) || isPlatformAdmin else { throw AuthorizationError(missing: permission) }
    }
}

/// `Check(principal, permission)`: the one RBAC check every service calls per RPC.
public enum Authorization {
    public static func check(_ principal: Principal, _ permission: Permission) throws {
        try principal.require(permission)
    }
}
