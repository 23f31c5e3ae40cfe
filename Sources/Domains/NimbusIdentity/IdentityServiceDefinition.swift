import NimbusService

public enum IdentityServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-identity"
    public static let abstract = "Identity and tenancy: users, tenants, roles, API keys, quotas, audit."
    public static let schema: String? = "identity"
    public static let defaultPort = 7001
    public static let databaseURLEnvironment = "NIMBUS_IDENTITY_DATABASE_URL"
}
