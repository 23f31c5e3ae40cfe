import Logging
import ServiceLifecycle

/// What a round of work found: more waiting (run again at once) or nothing (wait).
public enum WorkerRound: Sendable {
    case more
    case idle
}

/// Runs `round` again and again: at once while it reports `.more`, otherwise after `interval`
/// or as soon as `wake` is signalled. With a `lease`, only on the replica holding it (the
/// others keep asking for it). A failed round is logged and retried after `interval`. On
/// graceful shutdown the current round finishes, no new one starts, `onStop` runs and the
/// lease is released so another replica can take over at once.
public struct PeriodicWorker: Service {
    public let name: String
    let interval: Duration
    let wake: WorkSignal?
    let lease: LeaderLease?
    let failureLevel: Logger.Level
    let logger: Logger
    let round: @Sendable () async throws -> WorkerRound
    let onStop: (@Sendable () async -> Void)?

    public init(name: String, interval: Duration, wake: WorkSignal? = nil, lease: LeaderLease? = nil,
                failureLevel: Logger.Level = .warning, logger: Logger,
                onStop: (@Sendable () async -> Void)? = nil, round: @escaping @Sendable () async throws -> WorkerRound) {
        self.name = name
        self.interval = interval
        self.wake = wake
        self.lease = lease
        self.failureLevel = failureLevel
        self.logger = logger
        self.round = round
        self.onStop = onStop
    }

    public func run() async throws {
        let signal = wake ?? WorkSignal()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var next = WorkerRound.idle
                do {
                    if try await lease?.acquire() ?? true {
                        next = try await round()
                    }
                } catch {
                    logger.log(level: failureLevel, "background round failed; retried", metadata: ["worker": "\(name)", "error": "\(error)"])
                }
                if next == .more { continue }
                // SIGTERM need not wait out the interval.
                await cancelWhenGracefulShutdown { await signal.wait(upTo: interval) }
            }
        } onGracefulShutdown: {
            signal.signal()
        }
        // In a task of their own: when the worker was cancelled rather than stopped gracefully,
        // the last flush and the release must still reach the database.
        await Task { [onStop, lease] in
            await onStop?()
            await lease?.release()
        }.value
    }
}
