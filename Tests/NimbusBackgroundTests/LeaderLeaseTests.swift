import NimbusBackground
import NimbusPostgres
import Testing

/// Against a real PostgreSQL (NimbusTestSupport).
@Suite struct LeaderLeaseTests {
    @Test func oneHolderAtATimeAndTakeoverAfterExpiry() async throws {
        let db = try await BackgroundDatabase.make()
        let a = LeaderLease(pool: db.pool, schema: db.schema, name: "reconciler", ttl: .seconds(1), holder: "replica-a")
        let b = LeaderLease(pool: db.pool, schema: db.schema, name: "reconciler", ttl: .seconds(1), holder: "replica-b")
        #expect(try await a.acquire())
        #expect(try await !b.acquire(), "one replica at a time")
        #expect(try await a.acquire(), "the holder renews")
        #expect(a.isHeld && !b.isHeld)
        // a stops renewing (crashed): b takes over once the lease expired, and a learns it lost.
        try await Task.sleep(for: .milliseconds(1_200))
        #expect(!a.isHeld, "the local view expires with the lease")
        #expect(try await b.acquire())
        #expect(try await !a.acquire())
        let holder = try await db.pool.query("SELECT holder FROM svc.worker_leases WHERE name = 'reconciler'").first?.decode(String.self, column: "holder")
        #expect(holder == "replica-b")
        await db.pool.close()
    }

    @Test func releaseLetsAnotherReplicaTakeOverAtOnce() async throws {
        let db = try await BackgroundDatabase.make()
        let a = LeaderLease(pool: db.pool, schema: db.schema, name: "housekeeping", ttl: .seconds(60), holder: "replica-a")
        let b = LeaderLease(pool: db.pool, schema: db.schema, name: "housekeeping", ttl: .seconds(60), holder: "replica-b")
        #expect(try await a.acquire())
        #expect(try await !b.acquire())
        await a.release()
        #expect(!a.isHeld)
        #expect(try await b.acquire())
        // Different names are independent leases.
        let other = LeaderLease(pool: db.pool, schema: db.schema, name: "janitor", ttl: .seconds(60), holder: "replica-a")
        #expect(try await other.acquire())
        await db.pool.close()
    }
}
