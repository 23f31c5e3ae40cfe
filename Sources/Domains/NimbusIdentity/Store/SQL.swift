import Foundation
import NimbusPostgres

// Identity's statements go through NimbusPostgres like every other domain's: typed rows
// (`row.decode(T.self, column:)`), `PostgresConnection` inside transactions, `PostgresError`
// mapped to domain errors by constraint name (IdentityError.swift) and otherwise by the one
// SQLSTATE → RPC mapping (NimbusService's PostgresError+RPC). Two conventions remain, both
// for exactness: instants cross as microseconds since 1970 (the audit chain hashes them, and a
// Double `Date` would not round-trip), and byte strings as hex text.

extension PostgresRow {
    /// A column selected with `SQLText.micros(column:as:)`; nil when NULL.
    func micros(_ column: String) throws -> Date? {
        try decode(Int64?.self, column: column).map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }

    /// A column selected as `encode(x, 'hex')`; nil when NULL.
    func hexBytes(_ column: String) throws -> [UInt8]? {
        try decode(String?.self, column: column).flatMap(SQLText.bytes(hex:))
    }
}

/// Parameter text and the SQL fragments that pair with it.
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
