import Foundation
import NimbusRPCCore
import Synchronization

/// Feeds every `WatchAuthEpoch` stream of this replica: polls the auth epoch every few
/// milliseconds (one single-row read on one pooled connection, only while someone watches)
/// and hands each subscriber every change, plus the current epoch about every `heartbeat` so
/// a watcher keeps renewing its lease and notices a dead stream.
final class AuthEpochBroadcaster: Sendable {
    private struct State {
        var epoch: Int64 = -1
        var subscribers: [UInt64: AsyncStream<Int64>.Continuation] = [:]
        var nextID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())
    let pollInterval: Duration
    let heartbeat: Duration
    private let read: @Sendable () async throws -> Int64

    init(pollInterval: Duration = .milliseconds(5), heartbeat: Duration = .seconds(1),
         read: @escaping @Sendable () async throws -> Int64) {
        self.pollInterval = pollInterval
        self.heartbeat = heartbeat
        self.read = read
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of epochs: the current one first (read now), then changes and heartbeats.
    /// Ends when the caller stops iterating.
    func subscribe() async throws -> AsyncStream<Int64> {
        let current = try await read()
        let (stream, continuation) = AsyncStream<Int64>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let id = state.withLock { state -> UInt64? in
            if state.closed { return nil }
            state.epoch = max(state.epoch, current)
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            continuation.yield(state.epoch)
            return state.nextID
        }
        guard let id else { throw IdentityError(.unavailable, "this identity replica is shutting down") }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Takes a newly read epoch: subscribers hear it if it moved forward (or `force`).
    func publish(_ epoch: Int64, force: Bool) {
        state.withLock { state in
            guard epoch > state.epoch || force else { return }
            state.epoch = max(state.epoch, epoch)
            for continuation in state.subscribers.values { continuation.yield(state.epoch) }
        }
    }

    /// Ends every subscriber's stream (its WatchAuthEpoch call completes; the gateway reconnects,
    /// to another replica if this one is going away).
    func finishAll() {
        let continuations = state.withLock { state in
            state.closed = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in continuations { continuation.finish() }
    }

    /// The polling loop (a background service of identity); idle while nobody watches. When it
    /// stops (shutdown), the watch streams end too, so they do not hold up the server's drain.
    func run() async {
        defer { finishAll() }
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            if subscriberCount == 0 {
                try? await Task.sleep(for: .milliseconds(50))
                lastBeat = .now
                continue
            }
            let beat = ContinuousClock.now - lastBeat >= heartbeat
            if let epoch = try? await read() {
                publish(epoch, force: beat)
                if beat { lastBeat = .now }
            }
            try? await Task.sleep(for: pollInterval)
        }
    }
}
