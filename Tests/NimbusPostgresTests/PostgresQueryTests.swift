import Foundation
import NimbusPostgres
import NimbusTestSupport
import Testing

@Suite("Queries and typed rows")
struct PostgresQueryTests {
    @Test("values round-trip through parameters and typed decoding")
    func roundTrip() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        defer { Task { await pool.close() } }
        try await pool.withConnection { c in
            try await c.executeScript("""
                CREATE TABLE things (
                  id uuid PRIMARY KEY, name text NOT NULL, small int NOT NULL, big bigint NOT NULL,
                  flag bool NOT NULL, amount numeric(20,6) NOT NULL, at timestamptz NOT NULL,
                  doc jsonb NOT NULL, blob bytea NOT NULL, tags text[] NOT NULL, ids uuid[] NOT NULL,
                  note text)
                """)
        }
        let id = UUID()
        let at = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let amount = Decimal(string: "12345.678901")!
        let blob = Data([0, 1, 2, 0xfe, 0xff])
        let tags = ["a", "b c", "quote\"d", "back\\slash", "NULL", ""]
        let ids = [UUID(), UUID()]
        let doc = try PostgresJSONB(encoding: ["k": "v"])
        // A value that would break naive interpolation travels safely as a parameter.
        let name = "O'Brien'); DROP TABLE things; --"
        try await pool.execute(
            "INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            id, name, Int32(7), Int64.max, true, amount, at, doc, blob, tags, ids, String?.none)

        let row = try #require(try await pool.query("SELECT * FROM things WHERE id = $1", id).singleRow())
        #expect(try row.decode(UUID.self, column: "id") == id)
        #expect(try row.decode(String.self, column: "name") == name)
        #expect(try row.decode(Int32.self, column: "small") == 7)
        #expect(try row.decode(Int.self, column: "small") == 7)
        #expect(try row.decode(Int64.self, column: "big") == Int64.max)
        #expect(try row.decode(Bool.self, column: "flag"))
        #expect(try row.decode(Decimal.self, column: "amount") == amount)
        #expect(abs(try row.decode(Date.self, column: "at").timeIntervalSince(at)) < 0.000001)
        #expect(try row.decode(PostgresJSONB.self, column: "doc").decode([String: String].self) == ["k": "v"])
        #expect(try row.decode(Data.self, column: "blob") == blob)
        #expect(try row.decode([String].self, column: "tags") == tags)
        #expect(try row.decode([UUID].self, column: "ids") == ids)
        #expect(try row.decode(String?.self, column: "note") == nil)
        #expect(throws: PostgresError.self) { try row.decode(String.self, column: "note") }
        #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "name") }

        let (n, s) = try #require(try await pool.query("SELECT $1::int8 + 1, upper($2)", 41, "x").first).decode((Int, String).self)
        #expect(n == 42 && s == "X")
        #expect(try await pool.execute("UPDATE things SET note = $1", "n") == 1)
        await pool.close()
    }

    @Test("a connection cannot be used after its closure returned")
    func connectionEscapes() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let escaped = try await pool.withConnection { $0 }
        await #expect(throws: PostgresError.self) { try await escaped.query("SELECT 1") }
        await pool.close()
    }
}
