import NimbusPostgres
import NimbusRPCCore

/// A domain failure of identity, with the gRPC status it ends an RPC with. Messages are safe
/// to show the caller: they never carry secrets, and another tenant's resource is simply
/// "not found".
struct IdentityError: Error, Sendable, CustomStringConvertible, RPCErrorConvertible {
    var code: RPCCode
    var message: String

    init(_ code: RPCCode, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code): \(message)" }
    var rpcError: RPCError { RPCError(code, message, cause: self) }

    static func notFound(_ what: String) -> IdentityError { IdentityError(.notFound, "\(what) not found") }
    static func invalid(_ message: String) -> IdentityError { IdentityError(.invalidArgument, message) }
    static func precondition(_ message: String) -> IdentityError { IdentityError(.failedPrecondition, message) }
    static let badCredentials = IdentityError(.unauthenticated, "invalid credentials")
}

extension IdentityError {
    /// Constraint violations by name → what the caller did wrong. Anything else stays a
    /// `PostgresError`, which maps itself to a status (NimbusService's PostgresError+RPC:
    /// conflicts, unavailable database, INTERNAL with the SQL text in logs only).
    static func mapping(_ error: PostgresError) -> any Error {
        switch (error.sqlState, error.constraint) {
        case ("23505", "users_email_unique"?): IdentityError(.alreadyExists, "a user with this email already exists")
        case ("23505", "tenants_slug_unique"?): IdentityError(.alreadyExists, "a tenant with this slug already exists")
        case ("23505", "tenant_members_pkey"?): IdentityError(.alreadyExists, "the user is already a member")
        case ("23505", "roles_tenant_name_unique"?): IdentityError(.alreadyExists, "a role with this name already exists")
        case ("23514", "roles_custom_not_builtin_name"?): IdentityError.invalid("admin, developer and viewer are built-in role names")
        case ("23514", "roles_name_format"?): IdentityError.invalid("role names are 1–63 lowercase letters, digits, '_' or '-'")
        case ("23514", "tenants_slug_format"?): IdentityError.invalid("slugs are lowercase letters, digits and '-', 1–63 characters")
        case ("23514", "tenants_name_length"?): IdentityError.invalid("tenant names are 1–200 characters")
        case ("23514", "users_email_format"?): IdentityError.invalid("not a valid email address")
        case ("23514", "users_name_length"?): IdentityError.invalid("names are 1–200 characters")
        case ("23514", "api_keys_name_length"?): IdentityError.invalid("key names are 1–200 characters")
        case ("23514", let c?) where c.hasPrefix("tenant_quotas_") && c.hasSuffix("_within"):
            IdentityError.precondition("a limit would fall below current usage (\(c.dropFirst(14).dropLast(7)))")
        case ("23503", "tenant_members_role_fkey"?): IdentityError.precondition("the role is still assigned to members")
        case ("40001", _), ("40P01", _): IdentityError(.aborted, "concurrent update, retry")
        default: error
        }
    }
}

/// Runs `body`, turning known constraint violations into domain errors.
func mappingSQLErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as PostgresError {
        throw IdentityError.mapping(error)
    }
}
