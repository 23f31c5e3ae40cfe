import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// Owns one `PGresult`. Immutable once built, so reading it from any thread is safe. Column
/// names and types are read from libpq when asked for, not copied per result.
final class PostgresResult: @unchecked Sendable {
    let pointer: OpaquePointer
    let rowCount: Int
    let columnCount: Int

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
        rowCount = Int(PQntuples(pointer))
        columnCount = Int(PQnfields(pointer))
    }

    var columnNames: [String] { (0..<columnCount).map(columnName) }

    func columnName(_ column: Int) -> String { String(cString: PQfname(pointer, Int32(column))) }

    /// The position of the column named exactly `name` (no case folding, unlike `PQfnumber`).
    func columnIndex(named name: String) -> Int? {
        name.withCString { wanted in (0..<columnCount).first { strcmp(PQfname(pointer, Int32($0)), wanted) == 0 } }
    }

    func columnType(_ column: Int) -> PostgresType { PostgresType(rawValue: PQftype(pointer, Int32(column))) }

    deinit { PQclear(pointer) }

    var affectedRows: Int { Int(String(cString: PQcmdTuples(pointer))) ?? 0 }

    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(pointer, Int32(row), Int32(column)) == 1 }

    func text(_ row: Int, _ column: Int) -> String {
        let length = Int(PQgetlength(pointer, Int32(row), Int32(column)))
        let value = PQgetvalue(pointer, Int32(row), Int32(column))!
        return value.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

/// The rows a query returned (text format), decoded on demand into Swift values.
public struct PostgresRows: Sendable, RandomAccessCollection {
    let result: PostgresResult?

    public var startIndex: Int { 0 }
    public var endIndex: Int { result?.rowCount ?? 0 }
    public subscript(position: Int) -> PostgresRow { PostgresRow(result: result!, index: position) }

    /// Column names in result order.
    public var columns: [String] { result?.columnNames ?? [] }
    /// Rows inserted, updated, deleted … as reported by the command tag.
    public var affectedRows: Int { result?.affectedRows ?? 0 }

    /// The only row, or nil when there is none; more than one row is an error.
    public func singleRow() throws -> PostgresRow? {
        guard count <= 1 else { throw PostgresError(kind: .misuse, message: "expected at most one row, got \(count)") }
        return first
    }
}

/// One result row. Decode a column by name or position: `try row.decode(UUID.self, column: "id")`.
public struct PostgresRow: Sendable {
    let result: PostgresResult
    let index: Int

    public func decode<T: PostgresDecodable>(_: T.Type = T.self, at column: Int) throws -> T {
        guard column >= 0, column < result.columnCount else {
            throw PostgresError(kind: .decoding, message: "column index \(column) out of range (\(result.columnCount) columns)")
        }
        if result.isNull(index, column) {
            do { return try T.postgresNull() } catch var error as PostgresError {
                error.message += " (column \(result.columnName(column)))"; throw error
            }
        }
        do {
            return try T(postgresText: result.text(index, column), type: result.columnType(column))
        } catch var error as PostgresError {
            error.column = result.columnName(column)
            error.message += " (column \(result.columnName(column)))"
            throw error
        }
    }

    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let column = result.columnIndex(named: name) else {
            throw PostgresError(kind: .decoding, message: "no column named '\(name)' (have \(result.columnNames.joined(separator: ", ")))")
        }
        return try decode(type, at: column)
    }

    /// Decodes the first columns of the row as a tuple: `let (id, name) = try row.decode((UUID, String).self)`.
    public func decode<each T: PostgresDecodable>(_: (repeat each T).Type) throws -> (repeat each T) {
        var column = 0
        func next<U: PostgresDecodable>(_: U.Type) throws -> U {
            defer { column += 1 }
            return try decode(U.self, at: column)
        }
        return (repeat try next((each T).self))
    }

    public var columns: [String] { result.columnNames }
}
