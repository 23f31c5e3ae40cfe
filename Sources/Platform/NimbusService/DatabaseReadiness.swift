import Logging
import NimbusGRPC
import NimbusPostgres
import NimbusProto
import ServiceLifecycle

/// Keeps `grpc.health.v1.Health` in step with the database: pings through the pool every
/// `period` and marks the server and its services NOT_SERVING while the ping fails (the same
/// probe `/readyz` runs on demand).
struct DatabaseReadiness: Service {
    let pool: PostgresPool
    let health: HealthStatusProvider
    let logger: Logger
    var period: Duration = .seconds(5)

    func run() async throws {
        var ready = true
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let ok: Bool
            do { try await pool.ping(); ok = true } catch { ok = false }
            if ok != ready {
                ready = ok
                logger.warning(ok ? "database reachable again" : "database unreachable: NOT_SERVING", metadata: ["db.pool": "\(pool.name)"])
                for name in health.all.keys { health.setStatus(ok ? .serving : .notServing, for: name) }
            }
            await cancelWhenGracefulShutdown { try? await Task.sleep(for: period) }  // SIGTERM need not wait out the period
        }
    }
}
