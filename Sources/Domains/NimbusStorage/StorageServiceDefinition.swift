import Foundation
import Logging
import NimbusGRPC
import NimbusHTTP
import NimbusPlatform
import NimbusService
import ServiceLifecycle

public enum StorageServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-storage"
    public static let abstract = "Storage: object buckets (S3-compatible) and block volumes."
    public static let schema: String? = "storage"
    public static let defaultPort = 7003
    public static let databaseURLEnvironment = "NIMBUS_STORAGE_DATABASE_URL"

    /// Settings beyond the shared ones: NIMBUS_STORAGE_DATA_DIR (object bytes, default
    /// ./nimbus-data/storage), NIMBUS_STORAGE_S3_DOMAINS (comma-separated base domains for
    /// virtual-host addressing, default s3.localhost), NIMBUS_STORAGE_JANITOR_GRACE_SECONDS
    /// (how long unreferenced bytes stay, default 300), NIMBUS_STORAGE_JANITOR_INTERVAL_SECONDS
    /// (default 10), NIMBUS_IDENTITY_ENDPOINTS (quota and audit), NIMBUS_PRINCIPAL_KEY.
    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts {
        let source = environment.configSource
        let db = try environment.requireDatabase(executableName)
        let signer = try environment.principalSigner()
        let dataDir = source.string(flag: nil, env: "NIMBUS_STORAGE_DATA_DIR", default: "./nimbus-data/storage")
        guard !dataDir.isEmpty else { throw ConfigError(setting: "NIMBUS_STORAGE_DATA_DIR", problem: "must name a directory") }
        let domains = source.string(flag: nil, env: "NIMBUS_STORAGE_S3_DOMAINS", default: "s3.localhost")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        let grace = try source.int(flag: nil, env: "NIMBUS_STORAGE_JANITOR_GRACE_SECONDS", default: 300, range: 0...86_400 * 7,
                                   setting: "NIMBUS_STORAGE_JANITOR_GRACE_SECONDS")
        let interval = try source.int(flag: nil, env: "NIMBUS_STORAGE_JANITOR_INTERVAL_SECONDS", default: 10, range: 1...3600,
                                      setting: "NIMBUS_STORAGE_JANITOR_INTERVAL_SECONDS")
        let blobs: FileBlobStore
        do {
            blobs = try FileBlobStore(root: dataDir)
        } catch {
            throw ConfigError(setting: "NIMBUS_STORAGE_DATA_DIR", problem: "\(error)")
        }
        let identityEndpoints = try environment.endpoints(of: "identity", defaultPort: 7001)
        let identity = try GRPCChannel(endpoints: identityEndpoints.map { "\($0.host):\($0.port)" }.joined(separator: ","))
        let core = StorageCore(db: db, blobs: blobs, quota: IdentityStorageQuota(transport: identity, signer: signer),
                               logger: environment.logger, grace: .seconds(grace))
        // Signing keys from identity, reused only under its auth lease (a revoked key fails on
        // its next request); see S3Auth/README.md.
        let watcher = AuthEpochWatcher(transport: identity, logger: environment.logger, holder: "storage") { signer.sign(.service("nimbus-storage")) }
        let keys = LeasedSigningKeys(upstream: IdentitySigningKeys(transport: identity, signer: signer), lease: watcher)
        let s3 = S3Handler(core: core, auth: SigV4Authenticator(keys: keys, verifier: signer),
                           settings: S3Handler.Settings(baseDomains: domains), logger: environment.logger)
        environment.logger.info("object storage", metadata: ["storage.data_dir": "\(dataDir)", "s3.domains": "\(domains)"])
        return ServiceParts(
            streaming: s3.streamingHandler(),
            background: [
                StorageJanitor(core: core).worker(interval: .seconds(interval)),
                AuditRelay.make(pool: db, transport: identity, signer: signer, logger: environment.logger),
                AuthLeaseService(watcher: watcher),
            ],
            readinessChecks: [{ FileSystem.exists(dataDir + "/blobs") }])
    }
}

/// Keeps the auth epoch watch (and with it storage's auth lease) running.
struct AuthLeaseService: Service {
    let watcher: AuthEpochWatcher

    func run() async throws {
        await cancelWhenGracefulShutdown { await watcher.run() }
    }
}
