import NimbusBackground
import NimbusPostgres
import Testing

@Suite struct WorkClaimsTests {
    let work = WorkClaims(table: "svc.jobs", claimColumn: "claimed_until", pending: "done = false", order: "id")

    @Test func concurrentClaimersGetDisjointBatches() async throws {
        let db = try await BackgroundDatabase.make()
        try await db.pool.execute("INSERT INTO svc.jobs (id) SELECT generate_series(1, 40)")
        // Two claimers inside open transactions at once: SKIP LOCKED, no waiting, no overlap.
        async let first = db.pool.withTransaction { c in try await work.claim(on: c, limit: 25, for: .seconds(60)) }
        async let second = db.pool.withTransaction { c in try await work.claim(on: c, limit: 25, for: .seconds(60)) }
        let (x, y) = try await (first, second)
        #expect(Set(x).isDisjoint(with: Set(y)))
        #expect(x.count + y.count == 40)
        // Everything is claimed now: nothing more to take.
        #expect(try await work.claim(on: db.pool, limit: 10, for: .seconds(60)).isEmpty)
        await db.pool.close()
    }

    @Test func aCrashedClaimersRowsAreRetakenAfterTheClaimExpires() async throws {
        let db = try await BackgroundDatabase.make()
        try await db.pool.execute("INSERT INTO svc.jobs (id) VALUES (1), (2), (3)")
        let taken = try await work.claim(on: db.pool, limit: 2, for: .seconds(1))
        #expect(taken == ["1", "2"])
        // The claimer "crashes": it never records an outcome. Until the claim expires only the
        // unclaimed row is available; afterwards the abandoned rows come back.
        #expect(try await work.claim(on: db.pool, limit: 10, for: .seconds(1)) == ["3"])
        try await Task.sleep(for: .milliseconds(1_200))
        #expect(Set(try await work.claim(on: db.pool, limit: 10, for: .seconds(60))) == ["1", "2", "3"])
        // Finished work is no longer pending; released work is claimable at once.
        try await db.pool.execute("UPDATE svc.jobs SET done = true, claimed_until = NULL WHERE id = 1")
        try await work.release(["2"], on: db.pool)
        #expect(try await work.claim(on: db.pool, limit: 10, for: .seconds(60)) == ["2"])
        await db.pool.close()
    }
}
