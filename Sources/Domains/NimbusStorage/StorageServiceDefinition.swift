import NimbusService

public enum StorageServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-storage"
    public static let abstract = "Storage: object buckets and block volumes."
    public static let schema: String? = "storage"
    public static let defaultPort = 7003
    public static let databaseURLEnvironment = "NIMBUS_STORAGE_DATABASE_URL"
}
