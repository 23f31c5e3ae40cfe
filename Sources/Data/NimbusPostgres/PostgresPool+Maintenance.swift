import CoreMetrics
import Synchronization
import Logging

extension PostgresPool {
    /// Every tick: export statistics; every `healthCheckPeriod`: close idle connections past
    /// their idle time or lifetime (down to `minConnections`) and open up to `minConnections`.
    /// Returns the time since the last health check (zero when it just ran).
    func maintenanceStep(sinceCheck: Duration?) async -> Duration {
        var since = sinceCheck ?? configuration.healthCheckPeriod
        if since >= configuration.healthCheckPeriod {
            since = .zero
            await checkIdleConnections()
        }
        metrics.export(statistics)
        return since
    }

    private func checkIdleConnections() async {
        let now = ContinuousClock.now
        let expired = state.withLock { s -> [PostgresSession] in
            guard !s.closed else { return [] }
            var keep: [PostgresSession] = []
            var drop: [PostgresSession] = []
            // Oldest-released first: those are the ones to let go.
            for session in s.idle.sorted(by: { $0.lastReleased < $1.lastReleased }) {
                let idleTooLong = now - session.lastReleased >= configuration.maxIdleTime
                    && s.open - drop.count > configuration.minConnections
                if isExpired(session, now: now) || idleTooLong { drop.append(session) } else { keep.append(session) }
            }
            s.idle = keep.reversed().reversed()
            s.open -= drop.count
            s.discarded += drop.count
            return drop
        }
        for session in expired { session.close() }
        // Probe the remaining idle ones: a borrowed-then-returned probe revives or discards them.
        let idleCount = state.withLock { $0.idle.count }
        for _ in 0..<idleCount {
            let probed = try? await withConnection { c -> Bool in _ = try await c.query("SELECT 1"); return true }
            if probed == nil { break }
        }
        let missing = state.withLock { s -> Int in s.closed ? 0 : max(0, configuration.minConnections - s.open) }
        for _ in 0..<missing {
            let id = state.withLock { s -> Int? in
                guard !s.closed, s.open < configuration.minConnections else { return nil }
                s.open += 1; s.nextID += 1; return s.nextID
            }
            guard let id else { break }
            do {
                let session = try await PostgresSession.connect(id: id, configuration: configuration)
                state.withLock { $0.checkedOut += 1 }
                release(session)
            } catch {
                state.withLock { s in s.open -= 1; s.connectFailures += 1 }
                metrics.connectFailures.increment()
                logger.warning("cannot open a PostgreSQL connection", metadata: ["db.pool": "\(name)", "error": "\(error)"])
                break
            }
        }
    }
}
