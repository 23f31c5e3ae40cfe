import NimbusProto
import Synchronization

/// Serving status per service name, flipped by the service harness (e.g. NOT_SERVING while
/// draining or while the database is unreachable). The empty name is the whole server.
/// Watchers of `grpc.health.v1.Health/Watch` are told about every change.
public final class HealthStatusProvider: Sendable {
    public typealias Status = GrpcHealthV1.HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status] = [:]
        var watchers: [UInt64: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Every name in `services` (and the server, "") starts SERVING.
    public init(services: [String] = []) {
        state.withLock { state in
            state.statuses[""] = .serving
            for name in services { state.statuses[name] = .serving }
        }
    }

    public func setStatus(_ status: Status, for service: String = "") {
        let watchers = state.withLock { state -> [AsyncStream<Status>.Continuation] in
            guard state.statuses[service] != status else { return [] }
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// Marks the server and every known service NOT_SERVING (at the start of a shutdown).
    public func enterShutdown() {
        let names = state.withLock { Array($0.statuses.keys) }
        for name in names { setStatus(.notServing, for: name) }
    }

    /// nil when the service is unknown.
    public func status(for service: String) -> Status? {
        state.withLock { $0.statuses[service] }
    }

    public var all: [String: Status] { state.withLock { $0.statuses } }

    /// The current status (SERVICE_UNKNOWN if unknown) and then every change.
    func watch(_ service: String) -> AsyncStream<Status> {
        let (stream, continuation) = AsyncStream<Status>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            state.watchers[state.nextID] = (service, continuation)
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
