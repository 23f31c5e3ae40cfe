import Foundation
import Logging
import NimbusBackground
import NimbusPostgres
import ServiceLifecycle

extension BackgroundSchema {
    /// compute.worker_leases and compute.outbox (Migrations/compute).
    static let compute = BackgroundSchema(schema: "compute", service: "nimbus-compute")
}

/// Brings instances through their transitions: claims work in batches (`InstanceStore.work`, so
/// replicas share it and a crashed worker's instances are retaken), acts on the engine, records
/// the outcome. Woken by new work, and polls.
public struct InstanceWorker: Service {
    let core: ComputeCore
    let poll: Duration
    let concurrency: Int

    public init(core: ComputeCore, poll: Duration = .milliseconds(500), concurrency: Int = 8) {
        self.core = core
        self.poll = poll
        self.concurrency = concurrency
    }

    public func run() async throws {
        let worker = PeriodicWorker(name: "instances", interval: poll, wake: core.wake, logger: core.logger) { [core, concurrency] in
            let claimed = try await core.db.withConnection { try await InstanceStore.claimWork($0, limit: concurrency, lease: .seconds(60)) }
            if claimed.isEmpty { return .idle }
            await withTaskGroup(of: Void.self) { group in
                for instance in claimed {
                    group.addTask { await core.advance(instance) }
                }
            }
            return .more
        }
        try await worker.run()
    }
}

/// Compares the database with the engine every `interval`. With several replicas one holds
/// the `reconciler` lease (renewed each round, expiring after `leaseTTL`); another takes over
/// once it expires.
public struct Reconciler: Service {
    let core: ComputeCore
    let interval: Duration
    public let lease: LeaderLease
    public var holder: String { lease.holder }

    public init(core: ComputeCore, interval: Duration = .seconds(2), leaseTTL: Duration = .seconds(6), holder: String = UUID().uuidString) {
        self.core = core
        self.interval = interval
        self.lease = LeaderLease(pool: core.db, schema: .compute, name: "reconciler", ttl: leaseTTL, holder: holder)
    }

    /// Takes or renews the lease; true when this replica holds it now.
    public func acquireLease() async throws -> Bool {
        try await lease.acquire()
    }

    public func releaseLease() async {
        await lease.release()
    }

    public func run() async throws {
        let worker = PeriodicWorker(name: "reconciler", interval: interval, lease: lease, logger: core.logger) { [core] in
            try await core.reconcile()
            return .idle
        }
        try await worker.run()
    }
}
