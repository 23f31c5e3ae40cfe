import NimbusService

public enum DatabasesServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-database"
    public static let abstract = "Managed PostgreSQL: replicas, failover, backups, pooling."
    public static let schema: String? = "databases"
    public static let defaultPort = 7004
    public static let databaseURLEnvironment = "NIMBUS_DATABASE_DATABASE_URL"
}
