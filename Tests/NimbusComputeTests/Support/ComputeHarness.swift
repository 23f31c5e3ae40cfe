import Foundation
import NimbusContainers
import Logging
import NimbusCompute
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import NimbusService
import NimbusTestSupport
import Synchronization

/// Stands in for identity's quota service in core tests (the real one is exercised over RPC
/// by the end-to-end suite): the same rules — atomic per tenant, idempotent per key.
final class TestQuotaLedger: QuotaLedger {
    struct Usage: Hashable { var instances = 0, vcpus = 0, memoryMB = 0 }
    private let state = Mutex<(limits: [String: Usage], used: [String: Usage], reservations: [String: (String, Usage)])>(([:], [:], [:]))
    private let defaultLimit: Usage

    init(instances: Int = 100, vcpus: Int = 1000, memoryMB: Int = 1 << 30) {
        defaultLimit = Usage(instances: instances, vcpus: vcpus, memoryMB: memoryMB)
    }

    func used(_ tenant: String) -> Usage { state.withLock { $0.used[tenant] ?? Usage() } }

    func reserve(tenantID: String, key: String, instances: Int, vcpus: Int, memoryMB: Int) async throws {
        try state.withLock { state in
            if state.reservations[key] != nil { return }
            let limit = state.limits[tenantID] ?? defaultLimit
            var used = state.used[tenantID] ?? Usage()
            used.instances += instances
            used.vcpus += vcpus
            used.memoryMB += memoryMB
            guard used.instances <= limit.instances, used.vcpus <= limit.vcpus, used.memoryMB <= limit.memoryMB else {
                throw RPCError(.resourceExhausted, "quota exceeded")
            }
            state.used[tenantID] = used
            state.reservations[key] = (tenantID, Usage(instances: instances, vcpus: vcpus, memoryMB: memoryMB))
        }
    }

    func release(tenantID: String, key: String) async throws {
        state.withLock { state in
            guard let (tenant, usage) = state.reservations.removeValue(forKey: key) else { return }
            var used = state.used[tenant] ?? Usage()
            used.instances -= usage.instances
            used.vcpus -= usage.vcpus
            used.memoryMB -= usage.memoryMB
            state.used[tenant] = used
        }
    }
}

/// A migrated compute schema in a fresh database, a core over the shared test podman, and its
/// worker and reconciler running until `stop()`.
struct ComputeHarness {
    let database: TestDatabase
    let pool: PostgresPool
    let core: ComputeCore
    let quota: TestQuotaLedger
    let podman: TestPodman
    let workers: Task<Void, Never>

    /// A fixed test key-encryption key (base64url of 32 bytes), and a different one.
    static let testKEK = Secret(Base64URL.encode(Array(repeating: 0x4b, count: 32)))
    static let otherKEK = Secret(Base64URL.encode(Array(repeating: 0x6f, count: 32)))

    static func start(quota: TestQuotaLedger = TestQuotaLedger(), runtime: (any ContainerRuntime)? = nil, reconcileEvery: Duration = .milliseconds(500),
                      withReconciler: Bool = true) async throws -> ComputeHarness {
        let podman = try await TestPodman.shared()
        let database = try await TestPostgres.shared.makeDatabase(prefix: "compute")
        let pool = try database.makePool(maxConnections: 8)
        let migrator = try Migrator(pool: pool, schema: "compute", migrations: MigrationRunner.migrations(for: ComputeServiceDefinition.self))
        try await migrator.up()
        let core = try await ComputeCore.make(db: pool, runtime: runtime ?? podman.runtime, quota: quota,
                                              envCipher: try InstanceEnvCipher(keyEncryptionKey: testKEK), logger: logger, stopTimeout: .seconds(2))
        let worker = InstanceWorker(core: core, poll: .milliseconds(200))
        let reconciler = Reconciler(core: core, interval: reconcileEvery)
        let workers = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await worker.run() }
                if withReconciler { group.addTask { try? await reconciler.run() } }
            }
        }
        return ComputeHarness(database: database, pool: pool, core: core, quota: quota, podman: podman, workers: workers)
    }

    static var logger: Logger {
        var logger = Logger(label: "compute-test")
        logger.logLevel = .warning
        return logger
    }

    /// Terminates what the test left running, then stops the workers.
    func stop() async {
        for container in (try? await podman.runtime.listContainers(labels: [.equals(ComputeLabels.deployment, core.deployment)], all: true)) ?? [] {
            try? await podman.runtime.removeContainer(container.id, force: true)
        }
        if let rows = try? await pool.query("SELECT network_name FROM compute.vpcs") {
            for row in rows { if let name = try? row.decode(String.self, column: "network_name") { try? await podman.runtime.removeNetwork(name) } }
        }
        workers.cancel()
        await workers.value
        await pool.close()
    }

    var tenantsCreated: Set<String> {
        get async {
            guard let rows = try? await pool.query("SELECT DISTINCT tenant_id::text AS t FROM compute.instances") else { return [] }
            return Set(rows.compactMap { try? $0.decode(String.self, column: "t") })
        }
    }

    static func principal(tenant: String = UUID().uuidString.lowercased(), permissions: Set<Permission> = [.instanceRead, .instanceLaunch, .instanceManage, .vpcRead, .vpcManage]) -> Principal {
        Principal(userID: UUID().uuidString.lowercased(), tenantID: tenant, role: "developer", permissions: permissions)
    }

    /// Polls the instance until `predicate` holds or `timeout` passes.
    func waitFor(_ caller: Principal, _ id: String, timeout: Duration = .seconds(20), _ predicate: (Instance) -> Bool) async throws -> Instance {
        let deadline = ContinuousClock.now + timeout
        while true {
            let instance = try await core.instance(caller, id: id)
            if predicate(instance) || ContinuousClock.now >= deadline { return instance }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
