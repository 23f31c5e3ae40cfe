import Foundation
import NimbusPostgres
import NimbusTestSupport
import Synchronization
import Testing

@Suite("Transactions")
struct PostgresTransactionTests {
    @Test("commit on return, rollback on throw")
    func commitAndRollback() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        try await pool.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        try await pool.withTransaction { tx in
            try await tx.execute("INSERT INTO accounts VALUES ($1, $2)", 1, 100)
            #expect(try await tx.inTransaction)
        }
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await pool.withTransaction { tx in
                try await tx.execute("UPDATE accounts SET balance = 0 WHERE id = $1", 1)
                throw Abort()
            }
        }
        #expect(try await pool.query("SELECT balance FROM accounts").first!.decode(Int.self, at: 0) == 100)

        // A caught statement error aborts the transaction: COMMIT must not pretend it worked.
        let swallowed = await #expect(throws: PostgresError.self) {
            try await pool.withTransaction { tx in
                try await tx.execute("UPDATE accounts SET balance = 1 WHERE id = $1", 1)
                _ = try? await tx.execute("INSERT INTO accounts VALUES ($1, $2)", 1, 5)
            }
        }
        #expect(swallowed?.sqlState == "25P02")
        #expect(try await pool.query("SELECT balance FROM accounts").first!.decode(Int.self, at: 0) == 100)
        await pool.close()
    }

    /// Attempt one reads, then a concurrent transaction changes the row, then attempt one writes
    /// it: SERIALIZABLE fails that with 40001. The retrying transaction runs again and succeeds.
    @Test("a retryable transaction survives a forced serialization failure")
    func retriesSerializationFailure() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        try await pool.execute("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
        try await pool.execute("INSERT INTO counters VALUES (1, 0)")
        let attempts = Atomic<Int>(0)
        let result = try await pool.withTransaction(isolation: .serializable, retry: .retryable) { tx -> Int in
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            let n = try await tx.query("SELECT n FROM counters WHERE id = 1").first!.decode(Int.self, at: 0)
            if attempt == 1 {
                try await pool.execute("UPDATE counters SET n = n + 10 WHERE id = 1")  // another session
            }
            try await tx.execute("UPDATE counters SET n = $1 WHERE id = 1", n + 1)
            return n + 1
        }
        #expect(attempts.load(ordering: .relaxed) == 2)
        #expect(result == 11)
        #expect(try await pool.query("SELECT n FROM counters").first!.decode(Int.self, at: 0) == 11)

        // Without retry the same conflict reaches the caller as a typed error.
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withTransaction(isolation: .serializable) { tx in
                let n = try await tx.query("SELECT n FROM counters WHERE id = 1").first!.decode(Int.self, at: 0)
                try await pool.execute("UPDATE counters SET n = n + 10 WHERE id = 1")
                try await tx.execute("UPDATE counters SET n = $1 WHERE id = 1", n + 1)
            }
        }
        #expect(error?.kind == .serializationFailure && error?.sqlState == "40001" && error?.isRetryable == true)
        await pool.close()
    }
}
