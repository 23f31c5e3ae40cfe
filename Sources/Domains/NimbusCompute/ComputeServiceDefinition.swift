import NimbusService

public enum ComputeServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-compute"
    public static let abstract = "Compute: instances as containers, instance types, images, VPCs."
    public static let schema: String? = "compute"
    public static let defaultPort = 7002
    public static let databaseURLEnvironment = "NIMBUS_COMPUTE_DATABASE_URL"
}
