import Foundation
import Synchronization
import NimbusPlatform
import NimbusPostgres
import Testing
@testable import NimbusIdentity

@Suite("Auth leases: acks, and epoch bumps waiting for leased watchers (PostgreSQL)", .serialized)
struct AuthLeaseTests {
    func epoch(_ core: IdentityCore) async throws -> Int64 {
        try await core.query("SELECT epoch FROM identity.auth_epoch WHERE singleton").first!.decode(Int64.self, column: "epoch")
    }

    @Test("an ack of the current epoch is granted; a stale one is refused and renews nothing")
    func acks() async throws {
        let env = try await TwoTenants.make(lease: .milliseconds(300))
        defer { Task { await env.close() } }
        let current = try await epoch(env.core)
        #expect(try await env.core.ackAuthEpoch(watcherID: "gw-1", epoch: current) == .init(granted: true, currentEpoch: current))
        let key = try await env.core.createApiKey(env.aliceActor, name: "k", expiresAt: nil, userID: "")
        _ = try await env.core.revokeApiKey(env.aliceActor, id: key.key.id)  // gw-1 acks nothing: waits out its lease
        let bumped = try await epoch(env.core)
        #expect(bumped > current)
        #expect(try await env.core.ackAuthEpoch(watcherID: "gw-1", epoch: current) == .init(granted: false, currentEpoch: bumped))
        await #expect(throws: (any Error).self) { try await env.core.ackAuthEpoch(watcherID: "", epoch: bumped) }
    }

    @Test("a revocation answers only after every leased watcher acked the new epoch, or its lease ran out")
    func revocationWaits() async throws {
        let env = try await TwoTenants.make(lease: .milliseconds(1500))
        defer { Task { await env.close() } }
        let core = env.core
        let keys = try await (0..<3).asyncMap { i in try await core.createApiKey(env.aliceActor, name: "k\(i)", expiresAt: nil, userID: "") }

        // No watchers: no wait.
        var started = ContinuousClock.now
        _ = try await core.revokeApiKey(env.aliceActor, id: keys[0].key.id)
        #expect(ContinuousClock.now - started < .milliseconds(500))

        // A watcher that acks the new epoch 300 ms after the bump holds the answer that long.
        #expect(try await core.ackAuthEpoch(watcherID: "gw-live", epoch: try await epoch(core)).granted)
        let before = try await epoch(core)
        let acker = Task {
            while try await self.epoch(core) == before { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(300))
            return try await core.ackAuthEpoch(watcherID: "gw-live", epoch: try await self.epoch(core)).granted
        }
        started = ContinuousClock.now
        _ = try await core.revokeApiKey(env.aliceActor, id: keys[1].key.id)
        let waited = ContinuousClock.now - started
        #expect(try await acker.value)
        #expect(waited >= .milliseconds(300) && waited < .milliseconds(1400), "waited \(waited)")

        // A silent watcher holds it up until its lease (1.5 s) runs out, no longer.
        started = ContinuousClock.now
        _ = try await core.revokeApiKey(env.aliceActor, id: keys[2].key.id)
        let silent = ContinuousClock.now - started
        #expect(silent >= .milliseconds(900) && silent < .milliseconds(2500), "waited \(silent)")
    }

    @Test("WatchAuthEpoch's source: the current epoch first, then each bump")
    func broadcaster() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let poller = Task { await env.core.epochBroadcaster.run() }
        defer { poller.cancel() }
        var iterator = try await env.core.epochBroadcaster.subscribe().makeAsyncIterator()
        let first = await iterator.next()
        #expect(first == (try await epoch(env.core)))
        let key = try await env.core.createApiKey(env.aliceActor, name: "w", expiresAt: nil, userID: "")
        _ = try await env.core.revokeApiKey(env.aliceActor, id: key.key.id)
        var next = await iterator.next()
        while next == first { next = await iterator.next() }  // heartbeats repeat the epoch
        #expect(next == (try await epoch(env.core)))
    }

    @Test("with the NOTIFY feed up, bumps reach watchers at once and the epoch is read about once per heartbeat; while it is down, polling covers")
    func notifyFeed() async throws {
        let env = try await TwoTenants.make(epochFeed: true)
        defer { Task { await env.close() } }
        let broadcaster = env.core.epochBroadcaster
        let runner = Task { await broadcaster.run() }
        defer { runner.cancel() }
        let epochs = EpochLog(try await broadcaster.subscribe())
        try await waitUntil { broadcaster.isListening }

        let readsBefore = broadcaster.reads
        for i in 0..<3 {
            let key = try await env.core.createApiKey(env.aliceActor, name: "n\(i)", expiresAt: nil, userID: "")
            _ = try await env.core.revokeApiKey(env.aliceActor, id: key.key.id)
            let bumped = try await epoch(env.core)
            try await waitUntil(within: .milliseconds(500)) { epochs.seen.contains(bumped) }
        }
        try await Task.sleep(for: .milliseconds(500))
        // Polling every 5 ms would have read ~100 times by now; heartbeats read about once a second.
        #expect(broadcaster.reads - readsBefore <= 4, "\(broadcaster.reads - readsBefore) epoch reads")

        // The server ends the feed's session: a bump made meanwhile still reaches the watcher.
        try await env.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN nimbus_identity_auth%'")
        let key = try await env.core.createApiKey(env.aliceActor, name: "down", expiresAt: nil, userID: "")
        _ = try await env.core.revokeApiKey(env.aliceActor, id: key.key.id)
        let bumped = try await epoch(env.core)
        try await waitUntil(within: .seconds(3)) { epochs.seen.contains(bumped) }
        try await waitUntil { broadcaster.isListening }  // and the feed comes back
    }

    /// Polls `condition` every 10 ms; fails the test after `within`.
    func waitUntil(within timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Collects what a WatchAuthEpoch source sends.
final class EpochLog: Sendable {
    private let received = Mutex<[Int64]>([])
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(_ stream: AsyncStream<Int64>) {
        let task = Task { [weak self] in
            for await epoch in stream { self?.received.withLock { $0.append(epoch) } }
        }
        reader.withLock { $0 = task }
    }

    deinit { reader.withLock { $0?.cancel() } }

    var seen: [Int64] { received.withLock { $0 } }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
