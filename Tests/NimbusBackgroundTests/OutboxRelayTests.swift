import Foundation
import Logging
import NimbusBackground
import NimbusPostgres
import Synchronization
import Testing

@Suite struct OutboxRelayTests {
    struct Note: Codable, Equatable, Sendable { var text: String }

    /// What a receiver saw, by event id (a real receiver deduplicates by it).
    final class Receiver: Sendable {
        let received = Mutex<[(eventID: String, note: Note)]>([])
        let failing = Mutex(false)
        func deliver(_ messages: [OutboxMessage]) throws {
            if failing.withLock({ $0 }) { throw CocoaError(.fileReadUnknown) }
            let notes = try messages.map { ($0.eventID, try $0.decode(Note.self)) }
            received.withLock { $0 += notes }
        }
        var texts: [String] { received.withLock { $0.map(\.note.text) } }
    }

    func relay(_ db: BackgroundDatabase, _ receiver: Receiver, backoff: RetryBackoff = RetryBackoff(), claimTTL: Duration = .seconds(30)) -> OutboxRelay {
        OutboxRelay(pool: db.pool, schema: db.schema, topic: "audit", claimTTL: claimTTL, backoff: backoff, logger: db.logger) {
            try receiver.deliver($0)
        }
    }

    @Test func onlyCommittedMessagesAreDeliveredOnceInOrder() async throws {
        let db = try await BackgroundDatabase.make()
        let outbox = Outbox(schema: db.schema)
        let receiver = Receiver()
        try await db.pool.withTransaction { c in
            try await outbox.append(Note(text: "first"), topic: "audit", in: c)
            try await outbox.append(Note(text: "second"), topic: "audit", in: c)
            try await outbox.append(Note(text: "elsewhere"), topic: "billing", in: c)
        }
        struct Abort: Error {}
        _ = try? await db.pool.withTransaction { c in
            try await outbox.append(Note(text: "rolled back"), topic: "audit", in: c)
            throw Abort()
        }
        let relay = relay(db, receiver)
        #expect(try await relay.deliverBatch() == 2)
        #expect(try await relay.deliverBatch() == 0, "delivered messages are not sent again")
        #expect(receiver.texts == ["first", "second"])
        #expect(Set(receiver.received.withLock { $0.map(\.eventID) }).count == 2)
        await db.pool.close()
    }

    @Test func failedDeliveriesWaitTheirBackoffAndKeepTheirEventID() async throws {
        let db = try await BackgroundDatabase.make()
        let receiver = Receiver()
        try await db.pool.withTransaction { c in try await Outbox(schema: db.schema).append(Note(text: "retry me"), topic: "audit", in: c) }
        let relay = relay(db, receiver, backoff: RetryBackoff(initial: .seconds(1), maximum: .seconds(10)))
        receiver.failing.withLock { $0 = true }
        await #expect(throws: CocoaError.self) { try await relay.deliverBatch() }
        let row = try await db.pool.query("SELECT attempts, last_error, event_id::text AS event_id FROM svc.outbox").first!
        #expect(try row.decode(Int.self, column: "attempts") == 1)
        #expect(try !row.decode(String.self, column: "last_error").isEmpty)
        receiver.failing.withLock { $0 = false }
        #expect(try await relay.deliverBatch() == 0, "not due again before its backoff")
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(try await relay.deliverBatch() == 1)
        #expect(receiver.received.withLock { $0.map(\.eventID) } == [try row.decode(String.self, column: "event_id")])
        await db.pool.close()
    }

    @Test func aBatchClaimedByACrashedRelayIsDeliveredAfterItsClaimExpires() async throws {
        let db = try await BackgroundDatabase.make()
        let receiver = Receiver()
        try await db.pool.withTransaction { c in try await Outbox(schema: db.schema).append(Note(text: "orphan"), topic: "audit", in: c) }
        // Another relay claimed it and died before marking it delivered.
        try await db.pool.execute("UPDATE svc.outbox SET claimed_until = now() + interval '1 second'")
        let relay = relay(db, receiver)
        #expect(try await relay.deliverBatch() == 0)
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(try await relay.deliverBatch() == 1)
        #expect(receiver.texts == ["orphan"])
        await db.pool.close()
    }

    @Test func prunesDeliveredMessagesPastRetention() async throws {
        let db = try await BackgroundDatabase.make()
        let receiver = Receiver()
        try await db.pool.withTransaction { c in
            try await Outbox(schema: db.schema).append(Note(text: "old"), topic: "audit", in: c)
            try await Outbox(schema: db.schema).append(Note(text: "pending"), topic: "audit", in: c)
        }
        let relay = OutboxRelay(pool: db.pool, schema: db.schema, topic: "audit", batchSize: 1, retention: .seconds(60), logger: db.logger) {
            try receiver.deliver($0)
        }
        #expect(try await relay.deliverBatch() == 1)
        try await db.pool.execute("UPDATE svc.outbox SET delivered_at = now() - interval '2 minutes' WHERE delivered_at IS NOT NULL")
        #expect(try await relay.prune() == 1)
        #expect(try await db.pool.query("SELECT count(*) AS n FROM svc.outbox").first!.decode(Int.self, column: "n") == 1, "pending messages stay")
        await db.pool.close()
    }
}

@Suite struct PeriodicWorkerTests {
    @Test func runsAgainAtOnceWhileThereIsMoreAndWakesOnSignal() async throws {
        let rounds = Mutex(0)
        let wake = WorkSignal()
        let stopped = Mutex(false)
        let worker = PeriodicWorker(name: "test", interval: .seconds(60), wake: wake, logger: .init(label: "test"),
                                    onStop: { stopped.withLock { $0 = true } }) {
            let n = rounds.withLock { $0 += 1; return $0 }
            return n < 3 ? .more : .idle
        }
        let task = Task { try await worker.run() }
        #expect(await waitUntil { rounds.withLock { $0 } == 3 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(rounds.withLock { $0 } == 3, "idle: waits for the interval or a signal")
        wake.signal()
        #expect(await waitUntil { rounds.withLock { $0 } == 4 })
        task.cancel()
        try await task.value
        #expect(stopped.withLock { $0 })
    }

    @Test func onlyTheLeaseHolderRunsRounds() async throws {
        let db = try await BackgroundDatabase.make()
        let other = LeaderLease(pool: db.pool, schema: db.schema, name: "singleton", ttl: .seconds(60), holder: "other-replica")
        #expect(try await other.acquire())
        let rounds = Mutex(0)
        let lease = LeaderLease(pool: db.pool, schema: db.schema, name: "singleton", ttl: .seconds(60))
        let worker = PeriodicWorker(name: "singleton", interval: .milliseconds(20), lease: lease, logger: db.logger) {
            rounds.withLock { $0 += 1 }
            return .idle
        }
        let task = Task { try await worker.run() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(rounds.withLock { $0 } == 0, "another replica holds the lease")
        await other.release()
        #expect(await waitUntil { rounds.withLock { $0 } > 0 })
        task.cancel()
        try await task.value
        // Stopping released the lease: a third replica takes it at once.
        #expect(try await LeaderLease(pool: db.pool, schema: db.schema, name: "singleton", ttl: .seconds(60)).acquire())
        await db.pool.close()
    }
}

func waitUntil(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
