import Foundation
import NimbusPostgres
import NimbusTestSupport
import Testing

/// The server's text output for awkward values decodes exactly (checked against a real server).
@Suite("Text formats")
struct PostgresTextFormatTests {
    @Test("timestamps, arrays with NULLs, empty arrays, bytea and numerics from the server")
    func serverOutput() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let row = try #require(try await pool.query("""
            SELECT timestamptz '1969-07-20 20:17:40.5+00', timestamptz '2024-02-29 23:59:59.999999-05:30',
                   ARRAY['x', NULL, 'a,b', '{}']::text[], '{}'::int8[], ARRAY[1, NULL, 3]::int8[],
                   '\\x'::bytea, numeric '-0.000001', numeric '123456789012345678901234567890',
                   $1::timestamptz
            """, Date(timeIntervalSince1970: 0)).first)
        #expect(try row.decode(Date.self, at: 0) == Date(timeIntervalSince1970: -14_182_939.5))
        let leap = try row.decode(Date.self, at: 1).timeIntervalSince1970
        #expect(abs(leap - 1_709_270_999.999999) < 0.0000015)
        #expect(try row.decode([String?].self, at: 2) == ["x", nil, "a,b", "{}"])
        #expect(try row.decode([Int].self, at: 3) == [])
        #expect(try row.decode([Int?].self, at: 4) == [1, nil, 3])
        #expect(throws: PostgresError.self) { try row.decode([Int].self, at: 4) }
        #expect(try row.decode(Data.self, at: 5) == Data())
        #expect(try row.decode(Decimal.self, at: 6) == Decimal(string: "-0.000001"))
        #expect(try row.decode(Decimal.self, at: 7) == Decimal(string: "123456789012345678901234567890"))
        #expect(try row.decode(Date.self, at: 8) == Date(timeIntervalSince1970: 0))
        await pool.close()
    }
}
