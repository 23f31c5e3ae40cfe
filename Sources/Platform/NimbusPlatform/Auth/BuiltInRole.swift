/// The roles every tenant has. Custom roles (per tenant, stored by identity) choose any
/// well-formed permissions except `platform:admin`.
///
/// | permission        | admin | developer | viewer |
/// |-------------------|:-----:|:---------:|:------:|
/// | instance:read     |   ✓   |     ✓     |   ✓    |
/// | instance:launch   |   ✓   |     ✓     |        |
/// | instance:manage   |   ✓   |     ✓     |        |
/// | vpc:read          |   ✓   |     ✓     |   ✓    |
/// | vpc:manage        |   ✓   |     ✓     |        |
/// | volume:read       |   ✓   |     ✓     |   ✓    |
/// | volume:create     |   ✓   |     ✓     |        |
/// | volume:manage     |   ✓   |     ✓     |        |
/// | bucket:read       |   ✓   |     ✓     |   ✓    |
/// | bucket:write      |   ✓   |     ✓     |        |
/// | bucket:manage     |   ✓   |     ✓     |        |
/// | database:read     |   ✓   |     ✓     |   ✓    |
/// | database:create   |   ✓   |     ✓     |        |
/// | database:manage   |   ✓   |     ✓     |        |
/// | quota:read        |   ✓   |     ✓     |   ✓    |
/// | apikey:manage     |   ✓   |     ✓     |   ✓    |
/// | iam:read          |   ✓   |     ✓     |        |
/// | iam:manage        |   ✓   |           |        |
/// | tenant:manage     |   ✓   |           |        |
/// | audit:read        |   ✓   |           |        |
public enum BuiltInRole: String, CaseIterable, Sendable {
    case admin
    case developer
    case viewer

    public var permissions: Set<Permission> {
        switch self {
        case .viewer:
            return [.instanceRead, .vpcRead, .volumeRead, .bucketRead, .databaseRead, .quotaRead, .apiKeyManage]
        case .developer:
            return BuiltInRole.viewer.permissions.union([
                .instanceLaunch, .instanceManage, .vpcManage, .volumeCreate, .volumeManage,
                .bucketWrite, .bucketManage, .databaseCreate, .databaseManage, .iamRead,
            ])
        case .admin:
            return BuiltInRole.developer.permissions.union([.iamManage, .tenantManage, .auditRead])
        }
    }

    /// Every permission a tenant role can hold (what custom roles choose from).
    public static var allTenantPermissions: Set<Permission> { BuiltInRole.admin.permissions }
}
