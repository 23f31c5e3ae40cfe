import Foundation
import NimbusEventLoop
@testable import NimbusPostgres
import NimbusTestSupport
import Testing

@Suite("Queries on event loops")
struct PostgresEventLoopTests {
    @Test("a task on one of the pool's loops gets connections of its own loop and stays on it")
    func loopAffinity() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let group = try EventLoopGroup(threads: 2, name: "pg-test-loop")
        defer { group.shutdown() }
        let pool = try db.makePool(maxConnections: 4)
        pool.useEventLoops(group.loops)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for loop in group.loops + group.loops {
                tasks.addTask(executorPreference: loop) {
                    for n in 0..<50 {
                        let rows = try await pool.query("SELECT $1::int8 + 1", n)
                        #expect(try rows.first!.decode(Int.self, at: 0) == n + 1)
                        #expect(loop.inEventLoop)
                    }
                    // The connection this task borrows lives on the task's own loop.
                    let sameLoop = try await pool.withConnection { c in
                        _ = try await c.query("SELECT 1")
                        return c.session.loop === loop && loop.inEventLoop
                    }
                    #expect(sameLoop)
                }
            }
            try await tasks.waitForAll()
        }
        // Two tasks per loop at most: never more connections than that, none borrowed across loops.
        #expect(pool.statistics.open <= 4)
        await pool.close()
    }

    @Test("callers on no loop of the pool (plain tasks, other loops) are served through a loop too")
    func offLoopCallers() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let other = try EventLoopGroup(threads: 1, name: "pg-test-foreign")
        defer { other.shutdown() }
        let pool = try db.makePool(maxConnections: 2)
        #expect(try await pool.query("SELECT 5").first!.decode(Int.self, at: 0) == 5)
        let onForeignLoop = Task(executorPreference: other.loops[0]) {
            try await pool.query("SELECT 6").first!.decode(Int.self, at: 0)
        }
        #expect(try await onForeignLoop.value == 6)
        await pool.close()
    }

    @Test("an idle connection the server terminates is discarded; the next query gets a fresh one")
    func terminatedIdleConnection() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let group = try EventLoopGroup(threads: 1, name: "pg-test-loop")
        defer { group.shutdown() }
        let pool = try db.makePool(maxConnections: 1)
        pool.useEventLoops(group.loops)
        let watcher = try db.makePool(maxConnections: 1)
        let loop = group.loops[0]
        let before = try await Task(executorPreference: loop) {
            try await pool.query("SELECT pg_backend_pid()").first!.decode(Int.self, at: 0)
        }.value
        #expect(try await watcher.query("SELECT pg_terminate_backend($1::int)", before).first!.decode(Bool.self, at: 0))
        try await Task.sleep(for: .milliseconds(100))
        let after = try await Task(executorPreference: loop) {
            try await pool.query("SELECT pg_backend_pid()").first!.decode(Int.self, at: 0)
        }.value
        #expect(after != before)
        #expect(pool.statistics.discarded == 1)
        await pool.close()
        await watcher.close()
    }

    @Test("cancelling a task on a loop cancels its statement on the server", arguments: [false, true])
    func cancellationFromLoop(cached: Bool) async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let group = try EventLoopGroup(threads: 1, name: "pg-test-loop")
        defer { group.shutdown() }
        let pool = try db.makePool(maxConnections: 1)
        pool.useEventLoops(group.loops)
        let watcher = try db.makePool(maxConnections: 1)
        let marker = "nimbus_cancel_\(UUID().uuidString.prefix(8))"
        // The marker in the text keeps parallel tests (and their cases) from counting each other.
        let sql = "SELECT pg_sleep($2), $1::text /* \(marker) */"
        if cached { try await Task(executorPreference: group.loops[0]) { try await pool.query(sql, marker, 0.0) }.value }
        let running = Task(executorPreference: group.loops[0]) { try await pool.query(sql, marker, 30.0) }
        var seen = false
        for _ in 0..<100 where !seen {
            seen = try await watcher.query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1", sql)
                .first!.decode(Int.self, at: 0) == 1
            if !seen { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(seen)
        let cancelledAt = ContinuousClock.now
        running.cancel()
        let error = await #expect(throws: PostgresError.self) { try await running.value }
        #expect(error?.kind == .queryCanceled)
        #expect(ContinuousClock.now - cancelledAt < .seconds(5))
        // The loop kept serving meanwhile, and serves the next query on a fresh connection.
        let next = try await Task(executorPreference: group.loops[0]) { try await pool.query("SELECT 7").first!.decode(Int.self, at: 0) }.value
        #expect(next == 7)
        #expect(pool.statistics.discarded == 1)
        await pool.close()
        await watcher.close()
    }
}

@Suite("Waiting for a connection on a loop")
struct PostgresLoopWaitTests {
    @Test("a waiter on a loop is timed by the loop: served in time it never fails later, else a pool timeout")
    func acquireTimeoutOnLoop() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let group = try EventLoopGroup(threads: 1, name: "pg-test-loop")
        defer { group.shutdown() }
        let loop = group.loops[0]
        let pool = try db.makePool(maxConnections: 1) { $0.acquireTimeout = .milliseconds(300) }
        pool.useEventLoops(group.loops)

        // Served before the timeout: the loop timer is cancelled, nothing fires afterwards.
        let (held, release) = AsyncStream.makeStream(of: Void.self)
        let holder = Task(executorPreference: loop) { try await pool.withConnection { _ in for await _ in held { break } } }
        try await Task.sleep(for: .milliseconds(100))
        let served = Task(executorPreference: loop) { try await pool.query("SELECT 2").first!.decode(Int.self, at: 0) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(pool.statistics.waiting == 1)
        release.yield()
        #expect(try await served.value == 2)
        try await holder.value
        try await Task.sleep(for: .milliseconds(400))
        #expect(pool.statistics.acquireTimeouts == 0, "a cancelled timer fired")

        // Not served: a pool timeout after acquireTimeout, on the caller's loop.
        let (held2, release2) = AsyncStream.makeStream(of: Void.self)
        let holder2 = Task(executorPreference: loop) { try await pool.withConnection { _ in for await _ in held2 { break } } }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        let waiter = Task(executorPreference: loop) { try await pool.query("SELECT 3") }
        let error = await #expect(throws: PostgresError.self) { try await waiter.value }
        #expect(error?.kind == .poolTimeout)
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        #expect(pool.statistics.acquireTimeouts == 1)
        release2.yield()
        try await holder2.value
        await pool.close()
    }
}

@Suite("Handing a returned connection to a waiter")
struct PostgresHandoffTests {
    @Test("the oldest waiter on the connection's loop, unless the oldest of all has waited past the patience")
    func sameLoopFirstWithinPatience() throws {
        let group = try EventLoopGroup(threads: 2, name: "pg-handoff")
        defer { group.shutdown() }
        let (a, b) = (group.loops[0], group.loops[1])
        let now = ContinuousClock.now
        let fresh = now - .microseconds(500)
        let stale = now - PostgresPool.handoffPatience - .milliseconds(1)
        typealias W = (loop: EventLoop?, enqueued: ContinuousClock.Instant)
        #expect(PostgresPool.handoffIndex([(b, fresh), (nil, fresh), (a, fresh), (a, fresh)] as [W], to: a, now: now) == 2)
        #expect(PostgresPool.handoffIndex([(b, stale), (a, fresh)] as [W], to: a, now: now) == 0, "arrival order once the head waited too long")
        #expect(PostgresPool.handoffIndex([(b, fresh), (nil, fresh)] as [W], to: a, now: now) == 0, "no waiter on that loop: the oldest")
        #expect(PostgresPool.handoffIndex([(a, fresh)] as [W], to: a, now: now) == 0)
    }
}

@Suite("Concurrent use of one borrowed connection")
struct PostgresConnectionConcurrencyTests {
    @Test("statements issued at once on one connection run one after another")
    func concurrentStatementsOnOneConnection() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 1)
        let sums = try await pool.withConnection { c in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<8 { group.addTask { try await c.query("SELECT $1::int8 * 2", n).first!.decode(Int.self, at: 0) } }
                return try await group.reduce(0, +)
            }
        }
        #expect(sums == 56)
        await pool.close()
    }
}
