import Foundation
import NimbusContainers
import Logging
import NimbusGRPC
import NimbusPlatform
import NimbusService

public enum ComputeServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-compute"
    public static let abstract = "Compute: instances as containers, instance types, images, VPCs."
    public static let schema: String? = "compute"
    public static let defaultPort = 7002
    public static let databaseURLEnvironment = "NIMBUS_COMPUTE_DATABASE_URL"

    /// Settings beyond the shared ones: NIMBUS_DOCKER_SOCKET (default /var/run/docker.sock),
    /// NIMBUS_IDENTITY_ENDPOINTS (quota and audit), NIMBUS_PRINCIPAL_KEY and NIMBUS_COMPUTE_KEK
    /// (required: the key-encryption key sealing instance environments, base64url 32 bytes).
    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts {
        let envCipher = try InstanceEnvCipher.fromEnvironment(environment.configSource)
        let db = try environment.requireDatabase(executableName)
        let signer = try environment.principalSigner()
        let socket = environment.configSource.string(flag: nil, env: "NIMBUS_DOCKER_SOCKET", default: "/var/run/docker.sock")
        let runtime = DockerEngineRuntime(socket: socket)
        let identityEndpoints = try environment.endpoints(of: "identity", defaultPort: 7001)
        let identity = try GRPCChannel(endpoints: identityEndpoints.map { "\($0.host):\($0.port)" }.joined(separator: ","))
        let core = try await ComputeCore.make(db: db, runtime: runtime, quota: IdentityQuotaLedger(transport: identity, signer: signer), envCipher: envCipher,
                                              logger: environment.logger)
        environment.logger.info("container engine", metadata: ["engine.socket": "\(socket)"])
        return ServiceParts(
            services: [
                InstancesHandler(core: core, signer: signer), InstanceTypesHandler(core: core, signer: signer),
                ImagesHandler(core: core, signer: signer), VpcsHandler(core: core, signer: signer),
            ],
            background: [
                InstanceWorker(core: core), Reconciler(core: core),
                AuditRelay.make(pool: db, transport: identity, signer: signer, logger: environment.logger),
            ],
            readinessChecks: [{ (try? await runtime.ping()) != nil }])
    }
}
