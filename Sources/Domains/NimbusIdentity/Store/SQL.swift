import Foundation

/// The SQL surface the identity repositories use, in libpq's text format: every parameter
/// and result value is text (nil is NULL) and the SQL casts (`$1::uuid`, `decode($2,'hex')`).
/// Keeping to text makes the queries independent of the driver's type mapping; the adapter
/// over NimbusPostgres implements it.
protocol SQLExecutor: Sendable {
    func query(_ sql: String, _ parameters: [String?]) async throws -> [SQLRow]
}

protocol SQLDatabase: SQLExecutor {
    /// Runs `body` in one transaction: commit when it returns, rollback when it throws (the
    /// error is rethrown). READ COMMITTED, or a read-only REPEATABLE READ `snapshot`.
    func transaction<T: Sendable>(snapshot: Bool, _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T
}

extension SQLDatabase {
    func transaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await transaction(snapshot: false, body)
    }
}

extension SQLExecutor {
    func query(_ sql: String, _ parameters: String?...) async throws -> [SQLRow] {
        try await query(sql, parameters)
    }
    func one(_ sql: String, _ parameters: String?...) async throws -> SQLRow? {
        try await query(sql, parameters).first
    }
}

/// A failed statement as the repositories need to see it: SQLSTATE and constraint name.
struct SQLFailure: Error, Sendable, CustomStringConvertible {
    var sqlState: String
    var constraint: String?
    var message: String

    var description: String { "SQLSTATE \(sqlState)\(constraint.map { " (\($0))" } ?? ""): \(message)" }
    var isUniqueViolation: Bool { sqlState == "23505" }
    var isForeignKeyViolation: Bool { sqlState == "23503" }
    var isCheckViolation: Bool { sqlState == "23514" }
    var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
}

/// One result row: column name → text value.
struct SQLRow: Sendable {
    var values: [String: String?]

    init(_ values: [String: String?]) { self.values = values }

    func string(_ column: String) -> String { (values[column] ?? nil) ?? "" }
    func optionalString(_ column: String) -> String? { values[column] ?? nil }
    func int64(_ column: String) -> Int64 { Int64(string(column)) ?? 0 }
    func bool(_ column: String) -> Bool { string(column) == "t" || string(column) == "true" }
    /// A column selected as `encode(x, 'hex')`.
    func bytes(_ column: String) -> [UInt8]? { optionalString(column).flatMap(SQLText.bytes(hex:)) }
    /// A column selected as microseconds since 1970 (`SQLText.micros("col")`).
    func date(_ column: String) -> Date? {
        optionalString(column).flatMap(Int64.init).map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }
}

/// Text conversions for parameters and the SQL fragments that pair with them.
enum SQLText {
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
    static func bytes(hex text: String) -> [UInt8]? {
        var out = [UInt8]()
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return high == nil ? out : nil
    }
    static func micros(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))) }
    static func micros(_ date: Date?) -> String? { date.map(micros) }
    /// A `text[]` literal; callers pass only validated tokens (no quotes, commas or braces).
    static func array(_ items: [String]) -> String { "{" + items.joined(separator: ",") + "}" }
    static func bool(_ value: Bool) -> String { value ? "true" : "false" }

    /// SQL for a timestamptz column as microseconds since 1970 (exact: EXTRACT is numeric).
    static func micros(column: String, as name: String) -> String {
        "(extract(epoch from \(column)) * 1000000)::bigint AS \(name)"
    }
    /// SQL turning a microseconds parameter back into timestamptz, exactly.
    static func timestamp(_ parameter: String) -> String {
        "('epoch'::timestamptz + (\(parameter))::bigint * interval '1 microsecond')"
    }
}
