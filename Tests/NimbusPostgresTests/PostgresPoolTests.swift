import Foundation
import NimbusPostgres
import NimbusTestSupport
import Testing

@Suite("Connection pool")
struct PostgresPoolTests {
    @Test("an exhausted pool makes callers wait, then fails with a clear timeout")
    func exhaustionWaitsThenTimesOut() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 1) { $0.acquireTimeout = .milliseconds(300) }
        // Holding the only connection: a waiter is served once it comes back …
        let (held, release) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await pool.withConnection { c in
                try await c.query("SELECT 1")
                for await _ in held { break }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let waiter = Task { try await pool.query("SELECT 2").first!.decode(Int.self, at: 0) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(pool.statistics.waiting == 1)
        release.yield()
        #expect(try await waiter.value == 2)
        try await holder.value

        // … but one that waits past acquireTimeout gets a pool timeout naming the pool state.
        let (held2, release2) = AsyncStream.makeStream(of: Void.self)
        let holder2 = Task { try await pool.withConnection { _ in for await _ in held2 { break } } }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 3") }
        let waited = ContinuousClock.now - started
        #expect(error?.kind == .poolTimeout)
        #expect(error?.description.contains("1 of 1 in use") == true)
        #expect(waited >= .milliseconds(250) && waited < .seconds(3))
        #expect(pool.statistics.acquireTimeouts == 1)
        release2.yield()
        try await holder2.value
        await pool.close()
    }

    @Test("waiters are served in arrival order")
    func fairness() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 1) { $0.acquireTimeout = .seconds(10) }
        let order = OrderLog()
        let (held, release) = AsyncStream.makeStream(of: Void.self)
        let holder = Task { try await pool.withConnection { _ in for await _ in held { break } } }
        try await Task.sleep(for: .milliseconds(100))
        var waiters: [Task<Void, any Error>] = []
        for n in 0..<5 {
            waiters.append(Task { try await pool.withConnection { _ in await order.append(n) } })
            try await Task.sleep(for: .milliseconds(30))
        }
        release.yield()
        try await holder.value
        for w in waiters { try await w.value }
        #expect(await order.items == [0, 1, 2, 3, 4])
        await pool.close()
    }

    @Test("a PostgreSQL restart is survived: the next query reconnects")
    func survivesRestart() async throws {
        let server = TestPostgres.makePrivate()
        let db = try await server.makeDatabase()
        let pool = try db.makePool(maxConnections: 2)
        #expect(try await pool.query("SELECT 1").first!.decode(Int.self, at: 0) == 1)
        let before = try await pool.query("SELECT pg_backend_pid()").first!.decode(Int.self, at: 0)
        try await server.restart()
        #expect(try await pool.query("SELECT 41 + 1").first!.decode(Int.self, at: 0) == 42)
        let after = try await pool.query("SELECT pg_backend_pid()").first!.decode(Int.self, at: 0)
        #expect(before != after)
        await pool.close()
        await server.stop()
    }

    @Test("cancelling the calling task cancels the statement on the server",
          arguments: [false, true])  // first use (prepare, then execute) and cached statement
    func cancellationReachesServer(cached: Bool) async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 1)
        let watcher = try db.makePool(maxConnections: 1)
        let marker = "nimbus_cancel_\(UUID().uuidString.prefix(8))"
        // The marker in the text keeps parallel tests (and their cases) from counting each other.
        let sql = "SELECT pg_sleep($2), $1::text /* \(marker) */"
        if cached { try await pool.query(sql, marker, 0.0) }
        let running = Task { try await pool.query(sql, marker, 30.0) }
        func activeCount() async throws -> Int {
            try await watcher.query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1", sql)
                .first!.decode(Int.self, at: 0)
        }
        // Wait until the server runs it, then cancel the task.
        var seen = false
        for _ in 0..<100 where !seen { seen = try await activeCount() == 1; if !seen { try await Task.sleep(for: .milliseconds(20)) } }
        #expect(seen)
        let cancelledAt = ContinuousClock.now
        running.cancel()
        let error = await #expect(throws: PostgresError.self) { try await running.value }
        #expect(error?.kind == .queryCanceled)
        #expect(ContinuousClock.now - cancelledAt < .seconds(5))
        #expect(try await activeCount() == 0)
        // The pool keeps working afterwards (on a fresh connection: a cancelled one is not reused).
        #expect(try await pool.query("SELECT 7").first!.decode(Int.self, at: 0) == 7)
        #expect(pool.statistics.discarded == 1)
        await pool.close()
        await watcher.close()
    }

    @Test("a query suspends its caller: slow queries overlap on one caller thread")
    func neverBlocksCallerThread() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 4)
        // Four connections open first, so connecting (slow while the whole suite runs) is not
        // timed below.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await pool.query("SELECT pg_sleep(0.05)") } }
            try await group.waitForAll()
        }
        // Four 300 ms statements started from one task group. If a query blocked its caller's
        // thread, the 2-core cooperative pool could run at most two at once (>= 600 ms).
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await pool.query("SELECT pg_sleep(0.3)") } }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .milliseconds(590), "took \(elapsed)")
        await pool.close()
    }

    @Test("idle connections beyond minConnections are closed; minConnections stay open")
    func idleRecycling() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 3) {
            $0.minConnections = 1
            $0.maxIdleTime = .milliseconds(200)
            $0.healthCheckPeriod = .milliseconds(100)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await pool.query("SELECT pg_sleep(0.1)") } }
            try await group.waitForAll()
        }
        #expect(pool.statistics.open == 3)
        var open = 3
        for _ in 0..<40 where open != 1 { try await Task.sleep(for: .milliseconds(100)); open = pool.statistics.open }
        #expect(open == 1)
        #expect(pool.statistics.discarded >= 2)
        #expect(try await pool.query("SELECT 1").count == 1)
        await pool.close()
    }

    @Test("statistics count open, idle and in-use connections")
    func statistics() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool(maxConnections: 3)
        try await pool.withConnection { _ in
            try await pool.withConnection { _ in
                let s = pool.statistics
                #expect(s.inUse == 2 && s.open == 2 && s.maxConnections == 3)
            }
        }
        let s = pool.statistics
        #expect(s.inUse == 0 && s.idle == 2)
        await pool.close()
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
    }
}

actor OrderLog {
    var items: [Int] = []
    func append(_ n: Int) { items.append(n) }
}
