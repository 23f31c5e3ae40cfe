import Foundation
import NimbusRPCCore
import Synchronization

/// What a change feed (PostgreSQL LISTEN on the epoch trigger's NOTIFY) says about the epoch.
enum AuthEpochSignal: Sendable, Equatable {
    /// The feed is up: changes from now on are announced (earlier ones may have been missed).
    case listening
    /// The epoch moved to this value.
    case epoch(Int64)
    /// The feed is down: changes go unannounced until the next `.listening`.
    case lost
}

/// Runs a change feed until cancelled, handing each signal to the callback.
typealias AuthEpochFeed = @Sendable (_ deliver: @escaping @Sendable (AuthEpochSignal) -> Void) async -> Void

/// Feeds every `WatchAuthEpoch` stream of this replica: hands each subscriber every change of
/// the auth epoch, plus the current epoch about every `heartbeat` so a watcher keeps renewing
/// its lease and notices a dead stream. Changes come from the feed (NOTIFY) while it is up,
/// and from polling every `pollInterval` (one single-row read) while it is down or absent —
/// only while someone watches. The heartbeat re-reads the epoch: a lost notification costs at
/// most one heartbeat, and revocations wait for acknowledgements anyway.
final class AuthEpochBroadcaster: Sendable {
    private struct State {
        var epoch: Int64 = -1
        var subscribers: [UInt64: AsyncStream<Int64>.Continuation] = [:]
        var nextID: UInt64 = 0
        var closed = false
        /// The feed is up: no polling between heartbeats.
        var listening = false
        /// The feed (re)connected: read once, changes made while it was down were not announced.
        var resync = false
    }

    private let state = Mutex(State())
    let pollInterval: Duration
    let heartbeat: Duration
    private let read: @Sendable () async throws -> Int64
    private let feed: AuthEpochFeed?
    /// Epoch reads made (polls, heartbeats, resyncs): how tests see that the feed replaced polling.
    private let readCount = Atomic<Int>(0)

    init(pollInterval: Duration = .milliseconds(5), heartbeat: Duration = .seconds(1),
         read: @escaping @Sendable () async throws -> Int64, feed: AuthEpochFeed? = nil) {
        self.pollInterval = pollInterval
        self.heartbeat = heartbeat
        self.read = read
        self.feed = feed
    }

    var reads: Int { readCount.load(ordering: .relaxed) }
    var isListening: Bool { state.withLock { $0.listening } }

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

    /// Takes a signal of the feed.
    func take(_ signal: AuthEpochSignal) {
        switch signal {
        case .listening: state.withLock { $0.listening = true; $0.resync = true }
        case .epoch(let epoch): publish(epoch, force: false)
        case .lost: state.withLock { $0.listening = false }
        }
    }

    /// The feed and the polling loop (a background service of identity); idle while nobody
    /// watches. When it stops (shutdown), the watch streams end too, so they do not hold up the
    /// server's drain.
    func run() async {
        defer { finishAll() }
        await withTaskGroup(of: Void.self) { group in
            if let feed {
                group.addTask {
                    await feed { [weak self] signal in self?.take(signal) }
                    self.take(.lost)  // a feed that ended announces nothing more: poll
                }
            }
            await poll()
            group.cancelAll()
        }
    }

    private func poll() async {
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            if subscriberCount == 0 {
                try? await Task.sleep(for: .milliseconds(50))
                lastBeat = .now
                continue
            }
            let beat = ContinuousClock.now - lastBeat >= heartbeat
            let (listening, resync) = state.withLock { state in
                defer { state.resync = false }
                return (state.listening, state.resync)
            }
            if beat || resync || !listening {
                readCount.add(1, ordering: .relaxed)
                if let epoch = try? await read() {
                    publish(epoch, force: beat)
                    if beat { lastBeat = .now }
                } else if resync {
                    state.withLock { $0.resync = true }  // try again next round
                }
            }
            // Listening, the loop only watches the clock for the heartbeat (and for the feed
            // going down); without the feed it is the poll period.
            try? await Task.sleep(for: listening ? .milliseconds(20) : pollInterval)
        }
    }
}
