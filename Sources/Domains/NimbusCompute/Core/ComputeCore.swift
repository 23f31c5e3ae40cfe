import Foundation
import NimbusContainers
import Logging
import NimbusBackground
import NimbusPlatform
import NimbusRPCCore
import NimbusPostgres
import Synchronization

/// The compute service's behaviour, independent of the transport: RPC handlers call it with a
/// verified principal; the workers call its engine-facing half.
public struct ComputeCore: Sendable {
    public let db: PostgresPool
    public let runtime: any ContainerRuntime
    public let quota: any QuotaLedger
    /// Seals instance environments at rest (NIMBUS_COMPUTE_KEK).
    public let envCipher: InstanceEnvCipher
    public let logger: Logger
    /// Nudges the instance worker when new work is committed (it also polls).
    public let wake: WorkSignal
    /// How long a stop waits after SIGTERM before SIGKILL.
    public let stopTimeout: Duration
    /// This deployment's id (compute.deployment), a label on every container it creates.
    public let deployment: String
    /// The host's Nimbus packet filter (VPC isolation); nil with NIMBUS_COMPUTE_FIREWALL=off.
    public let firewall: HostFirewall?

    /// Reads the deployment id from the database (migrated), checks that `envCipher` opens the
    /// environments already sealed, seals those written before sealing existed and re-seals
    /// those sealed under a previous key (`NIMBUS_COMPUTE_KEK_PREVIOUS`) with the current one.
    public static func make(db: PostgresPool, runtime: any ContainerRuntime, quota: any QuotaLedger, envCipher: InstanceEnvCipher,
                            logger: Logger, stopTimeout: Duration = .seconds(10), firewall: HostFirewall? = nil) async throws -> ComputeCore {
        guard let row = try await db.query("SELECT id::text AS id FROM compute.deployment").first else {
            throw ComputeError(.internal, "compute.deployment has no row; is the schema migrated?")
        }
        let core = ComputeCore(db: db, runtime: runtime, quota: quota, envCipher: envCipher, logger: logger, stopTimeout: stopTimeout,
                               deployment: try row.decode(String.self, column: "id"), firewall: firewall)
        try await core.checkEnvironmentKey()
        try await core.sealPlainEnvironments()
        try await core.resealUnderCurrentKey()
        return core
    }

    public init(db: PostgresPool, runtime: any ContainerRuntime, quota: any QuotaLedger, envCipher: InstanceEnvCipher, logger: Logger,
                wake: WorkSignal = WorkSignal(), stopTimeout: Duration = .seconds(10), deployment: String, firewall: HostFirewall? = nil) {
        self.deployment = deployment
        self.firewall = firewall
        self.db = db
        self.runtime = runtime
        self.quota = quota
        self.envCipher = envCipher
        self.logger = logger
        self.wake = wake
        self.stopTimeout = stopTimeout
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await db.withTransaction(retry: .retryable) { try await body($0) }
        } catch let error as PostgresError {
            throw ComputeError.mapping(error)
        }
    }

    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await db.withConnection { try await body($0) }
    }

    func event(_ caller: Principal, _ action: String, _ type: String, _ id: String, _ metadata: [String: String] = [:]) -> Outbox.Event {
        Outbox.Event(tenantID: caller.tenantID, actorUserID: caller.userID, actorKeyID: caller.keyID, action: action,
                     resourceType: type, resourceID: id, metadata: metadata)
    }

    /// The caller's tenant as a UUID string (a principal without one cannot own resources).
    static func tenant(of caller: Principal) throws -> String {
        guard UUID(uuidString: caller.tenantID) != nil else { throw ComputeError(.permissionDenied, "the principal acts in no tenant") }
        return caller.tenantID.lowercased()
    }

    static func user(of caller: Principal) -> String {
        UUID(uuidString: caller.userID) != nil ? caller.userID.lowercased() : "00000000-0000-0000-0000-000000000000"
    }
}
