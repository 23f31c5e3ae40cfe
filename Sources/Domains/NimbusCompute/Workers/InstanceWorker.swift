import Foundation
import Logging
import NimbusPostgres
import ServiceLifecycle

/// Brings instances through their transitions: claims work with `FOR UPDATE SKIP LOCKED`
/// leases (so replicas share it), acts on the engine, records the outcome. Woken by new work,
/// and polls.
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
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let claimed = (try? await core.db.withConnection { try await InstanceStore.claimWork($0, limit: concurrency, lease: .seconds(60)) }) ?? []
                if claimed.isEmpty {
                    await core.wake.wait(upTo: poll)
                    continue
                }
                await withTaskGroup(of: Void.self) { group in
                    for instance in claimed {
                        group.addTask { await core.advance(instance) }
                    }
                }
            }
        } onGracefulShutdown: {
            core.wake.signal()
        }
    }
}

/// Compares the database with the engine every `interval`. With several replicas one holds
/// the `reconciler` lease (renewed each round, expiring after `leaseTTL`); another takes over
/// once it expires. Every replica checks (and repairs) its own host's firewall each round,
/// lease or not: the filter belongs to the host, not to the deployment.
public struct Reconciler: Service {
    let core: ComputeCore
    let interval: Duration
    let leaseTTL: Duration
    public let holder: String

    public init(core: ComputeCore, interval: Duration = .seconds(2), leaseTTL: Duration = .seconds(6), holder: String = UUID().uuidString) {
        self.core = core
        self.interval = interval
        self.leaseTTL = leaseTTL
        self.holder = holder
    }

    /// Takes or renews the lease; true when this replica holds it now.
    public func acquireLease() async throws -> Bool {
        let rows = try await core.db.query("""
            INSERT INTO compute.worker_leases (name, holder, expires_at)
            VALUES ('reconciler', $1, now() + make_interval(secs => $2::double precision))
            ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE compute.worker_leases.holder = EXCLUDED.holder OR compute.worker_leases.expires_at < now()
            RETURNING holder
            """, holder, Double(leaseTTL.components.seconds))
        return !rows.isEmpty
    }

    public func releaseLease() async {
        _ = try? await core.db.execute("DELETE FROM compute.worker_leases WHERE name = 'reconciler' AND holder = $1", holder)
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await core.syncFirewall()
                } catch {
                    core.logger.error("firewall check failed", metadata: ["error": "\(error)"])
                }
                do {
                    if try await acquireLease() {
                        try await core.reconcile()
                    }
                } catch {
                    core.logger.warning("reconcile round failed", metadata: ["error": "\(error)"])
                }
                await cancelWhenGracefulShutdown { try? await Task.sleep(for: interval) }  // SIGTERM need not wait out the interval
            }
        } onGracefulShutdown: {}
        await releaseLease()
    }
}
