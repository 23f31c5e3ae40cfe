/// One action a principal may take, written `resource:verb` (e.g. `instance:launch`).
/// Services check one permission per RPC with `principal.require(_:)`.
public struct Permission: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    ExpressibleByStringLiteral, CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }

    /// `resource:verb` with lowercase letters, digits, `_` and `-`; custom roles may only hold
    /// permissions of this shape.
    public var isWellFormed: Bool {
        let parts = rawValue.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, rawValue.utf8.count <= 64 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d
            }
        }
    }
}

extension Permission {
    // Compute (nimbus-compute).
    public static let instanceRead: Permission = "instance:read"
    public static let instanceLaunch: Permission = "instance:launch"
    /// Start, stop, restart, resize and terminate instances.
    public static let instanceManage: Permission = "instance:manage"
    public static let vpcRead: Permission = "vpc:read"
    public static let vpcManage: Permission = "vpc:manage"

    // Storage (nimbus-storage).
    public static let volumeRead: Permission = "volume:read"
    public static let volumeCreate: Permission = "volume:create"
    /// Attach, detach, snapshot and delete volumes.
    public static let volumeManage: Permission = "volume:manage"
    /// List buckets and read objects.
    public static let bucketRead: Permission = "bucket:read"
    /// Put and delete objects.
    public static let bucketWrite: Permission = "bucket:write"
    /// Create and delete buckets, change bucket policy.
    public static let bucketManage: Permission = "bucket:manage"

    // Managed databases (nimbus-database).
    public static let databaseRead: Permission = "database:read"
    public static let databaseCreate: Permission = "database:create"
    /// Resize, fail over, back up, restore, rotate credentials and delete databases.
    public static let databaseManage: Permission = "database:manage"

    // Identity (nimbus-identity).
    /// See the tenant's members, roles and users.
    public static let iamRead: Permission = "iam:read"
    /// Create users, add and remove members, define custom roles, manage anyone's API keys.
    public static let iamManage: Permission = "iam:manage"
    /// Create, list, rotate and revoke one's own API keys.
    public static let apiKeyManage: Permission = "apikey:manage"
    public static let quotaRead: Permission = "quota:read"
    /// Rename or delete the tenant.
    public static let tenantManage: Permission = "tenant:manage"
    public static let auditRead: Permission = "audit:read"

    /// Operator of the whole installation: set quotas, create tenants for others, force-delete
    /// a tenant. Never part of a tenant role; granted only to users flagged as platform admins.
    public static let platformAdmin: Permission = "platform:admin"

    /// Service-to-service calls (Authenticate, ReserveQuota, ReleaseQuota, AppendAuditEvents).
    /// Held only by service principals, which a service signs for itself.
    public static let serviceInternal: Permission = "service:internal"
}
