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
    /// (required: the key-encryption key sealing instance environments, base64url 32 bytes),
    /// NIMBUS_COMPUTE_FIREWALL (`nftables`, the default: VPC isolation in the host's nftables,
    /// which needs CAP_NET_ADMIN in the host network namespace; `off`: none) and
    /// NIMBUS_COMPUTE_FIREWALL_TABLE (default `nimbus`, the table `inet nimbus`).
    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts {
        let envCipher = try InstanceEnvCipher.fromEnvironment(environment.configSource)
        let db = try environment.requireDatabase(executableName)
        let signer = try environment.principalSigner()
        let socket = environment.configSource.string(flag: nil, env: "NIMBUS_DOCKER_SOCKET", default: "/var/run/docker.sock")
        let runtime = DockerEngineRuntime(socket: socket)
        let identityEndpoints = try environment.endpoints(of: "identity", defaultPort: 7001)
        let identity = try GRPCChannel(endpoints: identityEndpoints.map { "\($0.host):\($0.port)" }.joined(separator: ","))
        let firewall = try firewall(environment.configSource)
        let core = try await ComputeCore.make(db: db, runtime: runtime, quota: IdentityQuotaLedger(transport: identity, signer: signer), envCipher: envCipher,
                                              logger: environment.logger, firewall: firewall)
        if firewall == nil {
            environment.logger.warning("NIMBUS_COMPUTE_FIREWALL=off: VPCs are kept apart by the container engine's own rules only")
        }
        do {
            try await core.syncFirewall()
        } catch {
            throw ConfigError(setting: "NIMBUS_COMPUTE_FIREWALL", problem: "is nftables but the VPC isolation table could not be applied (\(error)); "
                              + "nimbus-compute needs nft and CAP_NET_ADMIN in the host's network namespace (see README), or NIMBUS_COMPUTE_FIREWALL=off")
        }
        environment.logger.info("container engine", metadata: ["engine.socket": "\(socket)"])
        return ServiceParts(
            services: [
                InstancesHandler(core: core, signer: signer), InstanceTypesHandler(core: core, signer: signer),
                ImagesHandler(core: core, signer: signer), VpcsHandler(core: core, signer: signer),
            ],
            background: [
                InstanceWorker(core: core), Reconciler(core: core), FirewallGuard(core: core),
                AuditRelay.make(pool: db, transport: identity, signer: signer, logger: environment.logger),
            ],
            readinessChecks: [{ (try? await runtime.ping()) != nil }])
    }

    static func firewall(_ source: ConfigSource) throws -> HostFirewall? {
        switch source.string(flag: nil, env: "NIMBUS_COMPUTE_FIREWALL", default: "nftables") {
        case "nftables":
            let table = source.string(flag: nil, env: "NIMBUS_COMPUTE_FIREWALL_TABLE", default: "nimbus")
            do {
                try NftablesRuleset.checkName(table: table)
            } catch let error as FirewallError {
                throw ConfigError(setting: "NIMBUS_COMPUTE_FIREWALL_TABLE", problem: error.message)
            }
            return HostFirewall(table: table)
        case "off":
            return nil
        case let other:
            throw ConfigError(setting: "NIMBUS_COMPUTE_FIREWALL", problem: "'\(other)' is not nftables or off")
        }
    }
}
