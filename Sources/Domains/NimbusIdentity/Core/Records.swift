import Foundation
import NimbusPostgres
import NimbusPlatform

/// Rows as the domain sees them (never a password hash or key secret).
struct UserRecord: Sendable, Hashable {
    var id: String
    var email: String
    var name: String
    var isActive: Bool
    var isPlatformAdmin: Bool
    var defaultTenantID: String?
    var version: Int64
    var createdAt: Date
    var updatedAt: Date

    static let columns = """
        u.id::text AS id, u.email, u.name, u.is_active, u.is_platform_admin, u.default_tenant_id::text AS default_tenant_id, \
        u.version, \(SQLText.micros(column: "u.created_at", as: "created_us")), \(SQLText.micros(column: "u.updated_at", as: "updated_us"))
        """

    init(row: PostgresRow) throws {
        id = try row.decode(String.self, column: "id")
        email = try row.decode(String.self, column: "email")
        name = try row.decode(String.self, column: "name")
        isActive = try row.decode(Bool.self, column: "is_active")
        isPlatformAdmin = try row.decode(Bool.self, column: "is_platform_admin")
        defaultTenantID = try row.decode(String?.self, column: "default_tenant_id")
        version = try row.decode(Int64.self, column: "version")
        createdAt = (try row.micros("created_us")) ?? Date(timeIntervalSince1970: 0)
        updatedAt = (try row.micros("updated_us")) ?? Date(timeIntervalSince1970: 0)
    }
}

struct TenantRecord: Sendable, Hashable {
    var id: String
    var name: String
    var slug: String
    var version: Int64
    var createdAt: Date

    static let columns = "t.id::text AS id, t.name, t.slug, t.version, \(SQLText.micros(column: "t.created_at", as: "created_us"))"

    init(row: PostgresRow) throws {
        id = try row.decode(String.self, column: "id")
        name = try row.decode(String.self, column: "name")
        slug = try row.decode(String.self, column: "slug")
        version = try row.decode(Int64.self, column: "version")
        createdAt = (try row.micros("created_us")) ?? Date(timeIntervalSince1970: 0)
    }
}

struct MemberRecord: Sendable, Hashable {
    var tenantID: String
    var userID: String
    var email: String
    var role: String
    var createdAt: Date

    static let columns = """
        m.tenant_id::text AS tenant_id, m.user_id::text AS user_id, u.email, r.name AS role, \
        \(SQLText.micros(column: "m.created_at", as: "created_us"))
        """

    init(row: PostgresRow) throws {
        tenantID = try row.decode(String.self, column: "tenant_id")
        userID = try row.decode(String.self, column: "user_id")
        email = try row.decode(String.self, column: "email")
        role = try row.decode(String.self, column: "role")
        createdAt = (try row.micros("created_us")) ?? Date(timeIntervalSince1970: 0)
    }
}

struct RoleRecord: Sendable, Hashable {
    var id: String
    var tenantID: String?
    var name: String
    var description: String
    var permissions: [String]
    var builtin: Bool { tenantID == nil }

    static let columns = """
        r.id::text AS id, r.tenant_id::text AS tenant_id, r.name, r.description, \
        (SELECT coalesce(string_agg(p.permission, ',' ORDER BY p.permission), '') FROM identity.role_permissions p WHERE p.role_id = r.id) AS permissions
        """

    init(row: PostgresRow) throws {
        id = try row.decode(String.self, column: "id")
        tenantID = try row.decode(String?.self, column: "tenant_id")
        name = try row.decode(String.self, column: "name")
        description = try row.decode(String.self, column: "description")
        permissions = (try row.decode(String.self, column: "permissions")).split(separator: ",").map(String.init)
    }
}

struct ApiKeyRecord: Sendable, Hashable {
    var id: String
    var userID: String
    var tenantID: String
    var name: String
    var prefix: String
    var createdAt: Date
    var expiresAt: Date?
    var revokedAt: Date?
    var lastUsedAt: Date?
    var previousValidUntil: Date?

    static let columns = """
        k.id::text AS id, k.user_id::text AS user_id, k.tenant_id::text AS tenant_id, k.name, k.prefix, \
        \(SQLText.micros(column: "k.created_at", as: "created_us")), \(SQLText.micros(column: "k.expires_at", as: "expires_us")), \
        \(SQLText.micros(column: "k.revoked_at", as: "revoked_us")), \(SQLText.micros(column: "k.last_used_at", as: "last_used_us")), \
        \(SQLText.micros(column: "k.previous_valid_until", as: "previous_us"))
        """

    init(row: PostgresRow) throws {
        id = try row.decode(String.self, column: "id")
        userID = try row.decode(String.self, column: "user_id")
        tenantID = try row.decode(String.self, column: "tenant_id")
        name = try row.decode(String.self, column: "name")
        prefix = try row.decode(String.self, column: "prefix")
        createdAt = (try row.micros("created_us")) ?? Date(timeIntervalSince1970: 0)
        expiresAt = try row.micros("expires_us")
        revokedAt = try row.micros("revoked_us")
        lastUsedAt = try row.micros("last_used_us")
        previousValidUntil = try row.micros("previous_us")
    }
}

/// An audit event to append (identity's own, or delivered by another service).
struct AuditDraft: Sendable, Hashable {
    var eventID: String
    var tenantID: String
    var actorUserID: String
    var actorKeyID: String
    var action: String
    var resourceType: String
    var resourceID: String
    var outcome: AuditOutcomeValue
    var requestID: String
    var source: String
    var occurredAtMicros: Int64
    var metadata: [String: String]
}

/// Who performs an operation: the verified principal and the request id for the audit log.
struct Actor: Sendable {
    var principal: Principal
    var requestID: String

    var userID: String { principal.userID }
    var tenantID: String { principal.tenantID }
    var isPlatformAdmin: Bool { principal.isPlatformAdmin }

    func require(_ permission: Permission) throws { try principal.require(permission) }

    /// NOT_FOUND unless `tenantID` is the actor's tenant (platform admins see every tenant):
    /// another tenant's resource must look exactly like a missing one.
    func requireTenant(_ tenantID: String, _ what: String) throws {
        guard tenantID == self.tenantID || isPlatformAdmin else { throw IdentityError.notFound(what) }
    }
}

/// The audit scope of installation-wide events that belong to no tenant.
let platformAuditTenant = "00000000-0000-0000-0000-000000000000"
