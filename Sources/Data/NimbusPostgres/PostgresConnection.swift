import CLibPQ
import Synchronization

/// A borrowed connection, valid only inside the closure that received it
/// (`PostgresPool.withConnection` / `withTransaction`). Statements on it run one after another.
public final class PostgresConnection: Sendable {
    let session: PostgresSession
    private let valid = Atomic<Bool>(true)

    init(session: PostgresSession) { self.session = session }

    func invalidate() { valid.store(false, ordering: .relaxed) }

    private func checkValid() throws {
        guard valid.load(ordering: .relaxed) else {
            throw PostgresError(kind: .misuse, message: "a PostgresConnection was used after its closure returned")
        }
    }

    /// Runs one statement with `$1 … $n` bound to `binds`. Prepared once per connection and
    /// reused (`prepared: false` for one-off statements). Values never enter the SQL text.
    @discardableResult
    public func query(_ sql: String, _ binds: any PostgresEncodable...) async throws -> PostgresRows {
        try await query(sql, binds: binds)
    }

    @discardableResult
    public func query(_ sql: String, binds: [any PostgresEncodable], prepared: Bool = true) async throws -> PostgresRows {
        try checkValid()
        return PostgresRows(result: try await session.statement(sql, binds, prepared: prepared))
    }

    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ binds: any PostgresEncodable...) async throws -> Int {
        try await query(sql, binds: binds).affectedRows
    }

    /// Runs SQL text with no parameters through the simple protocol: several statements may be
    /// separated by `;` (migration files, DDL). Never build this text from values.
    public func executeScript(_ sql: String) async throws {
        try checkValid()
        _ = try await session.script(sql)
    }

    func commit() async throws {
        try checkValid()
        try await session.commit()
    }

    /// True while a transaction is open on this connection (including a failed one).
    public var inTransaction: Bool {
        get async throws {
            try checkValid()
            let status = try await session.transactionStatus
            return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
        }
    }
}
