import NimbusService

public enum GatewayServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-gateway"
    public static let abstract = "The front door: REST/JSON and gRPC for external clients."
    public static let schema: String? = nil
    public static let defaultPort = 8080
    public static let databaseURLEnvironment = "NIMBUS_GATEWAY_DATABASE_URL"
}
