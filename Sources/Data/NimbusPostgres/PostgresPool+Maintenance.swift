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
        // Probe each remaining idle connection once: checking it out makes its first job verify
        // the socket (reconnecting a dead one), and the returned probe puts it back.
        let probes = state.withLock { s -> [PostgresSession] in
            let taken = s.idle
            s.idle = []
            s.checkedOut += taken.count
            return taken
        }
        for session in probes {
            session.markCheckedOut()
            let connection = PostgresConnection(session: session)
            _ = try? await connection.query("SELECT 1")
            connection.invalidate()
            release(session, probe: true)
        }
        let missing = state.withLock { s -> Int in s.closed ? 0 : max(0, configuration.minConnections - s.open) }
        for _ in 0..<missing {
            let id = state.withLock { s -> Int? in
                guard !s.closed, s.open < configuration.minConnections else { return nil }
                s.open += 1; s.nextID += 1; return s.nextID
            }
            guard let id else { break }
            do {
                let loop = try loopForNewConnection(id: id, caller: nil)
                let session = try await PostgresSession.connect(id: id, configuration: configuration, loop: loop)
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
