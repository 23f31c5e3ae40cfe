import CLibPQ
import Foundation
import NimbusEventLoop
import Synchronization

/// What one round trip sends; each becomes one libpq `PQsend…` call.
enum PostgresCommand: Sendable {
    case simple(String)
    case params(String, types: [UInt32], values: [String?])
    case prepare(name: String, sql: String, types: [UInt32])
    case prepared(name: [CChar], values: [String?])
}

// Everything here runs on the session's loop thread.
extension PostgresSession: EventLoopIOHandler {
    /// Sends `command` without blocking (libpq nonblocking mode); `completion` runs on this loop
    /// once every result of it has arrived.
    func send(_ command: PostgresCommand, _ completion: @escaping Completion) {
        precondition(operation == nil, "a second command on a busy PostgreSQL connection")
        guard let c = conn, registeredFD >= 0 else { return completion(.failure(brokenError())) }
        let sent: Int32
        switch command {
        case .simple(let sql):
            sent = PQsendQuery(c, sql)
        case .params(let sql, let types, let values):
            sent = withCStringArray(values) { v in PQsendQueryParams(c, sql, Int32(values.count), types, v, nil, nil, 0) }
        case .prepare(let name, let sql, let types):
            sent = PQsendPrepare(c, name, sql, Int32(types.count), types)
        case .prepared(let name, let values):
            sent = name.withUnsafeBufferPointer { name in
                withCStringArray(values) { v in PQsendQueryPrepared(c, name.baseAddress, Int32(values.count), v, nil, nil, 0) }
            }
        }
        guard sent == 1 else { return completion(.failure(connectionError())) }
        operation = Operation(completion: completion)
        flush(c)
    }

    /// Pushes what libpq buffered; asks for writability while the socket is full.
    private func flush(_ c: OpaquePointer) {
        let flushed = PQflush(c)
        if flushed < 0 { return finish(.failure(connectionError())) }
        let writing = flushed == 1
        if operation?.writing != writing {
            operation?.writing = writing
            try? loop.modify(registeredFD, events: writing ? [.readable, .writable] : .readable)
        }
    }

    func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        guard let c = conn else { return }
        guard let operation else {
            // Nothing in flight: only a server's goodbye arrives here. Stop watching a dead
            // socket (it would stay readable); the pool discards the session.
            if PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK {
                shared.withLock { $0.broken = true }
                detach()
            }
            return
        }
        if readable && PQconsumeInput(c) == 0 { return finish(.failure(connectionError())) }
        if operation.writing {
            flush(c)
            if self.operation == nil || operation.writing { return }
        }
        while PQisBusy(c) == 0 {
            guard let result = PQgetResult(c) else { return finish(outcome(c)) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                operation.last = PostgresResult(result)
            default:
                if operation.error == nil { operation.error = Self.error(from: result) }
                PQclear(result)
            }
        }
    }

    /// The command's outcome once libpq has no more results: its first error, else its last result.
    private func outcome(_ c: OpaquePointer) -> Result<PostgresResult, any Error> {
        guard let operation else { return .failure(brokenError()) }
        if var error = operation.error {
            if PQstatus(c) != CONNECTION_OK || error.kind == .connectionFailure {
                shared.withLock { $0.broken = true }
                error.kind = .connectionFailure
            }
            return .failure(error)
        }
        if let last = operation.last { return .success(last) }
        return .failure(PostgresError(kind: .server, message: "the server sent no result"))
    }

    private func finish(_ outcome: Result<PostgresResult, any Error>) {
        guard let operation else { return }
        self.operation = nil
        if operation.writing { try? loop.modify(registeredFD, events: .readable) }
        if case .failure(let error as PostgresError) = outcome, error.kind == .connectionFailure {
            shared.withLock { $0.broken = true }
            detach()
        }
        operation.completion(outcome)
    }

    // MARK: the prepared-statement cache

    /// Executes the statement cached under `key`, preparing it first on this connection's first use.
    func runPrepared(key: StatementKey, sql: String, types: [UInt32], values: [String?], retried: Bool, _ done: @escaping Completion) {
        guard let name = statements[key] else {
            if statements.count >= configuration.preparedStatementCacheSize, let oldest = statementOrder.first {
                return forget(key: oldest) { [self] in runPrepared(key: key, sql: sql, types: types, values: values, retried: retried, done) }
            }
            statementCounter += 1
            let name = "nimbus_\(statementCounter)"
            return send(.prepare(name: name, sql: sql, types: types)) { [self] prepared in
                if case .failure = prepared { return done(prepared) }
                statements[key] = Array(name.utf8CString)
                statementOrder.append(key)
                runPrepared(key: key, sql: sql, types: types, values: values, retried: retried, done)
            }
        }
        send(.prepared(name: name, values: values)) { [self] result in
            if !retried, case .failure(let error as PostgresError) = result, error.sqlState == "0A000",
               error.message.contains("cached plan"), let c = conn, PQtransactionStatus(c) == PQTRANS_IDLE {
                // A migration changed a table under a cached statement: prepare it again once.
                return forget(key: key) { [self] in runPrepared(key: key, sql: sql, types: types, values: values, retried: true, done) }
            }
            done(result)
        }
    }

    /// Drops a cached statement, on the server too when no transaction is open.
    private func forget(key: StatementKey, _ then: @escaping () -> Void) {
        guard let name = statements.removeValue(forKey: key) else { return then() }
        statementOrder.removeAll { $0 == key }
        guard let c = conn, PQtransactionStatus(c) == PQTRANS_IDLE else { return then() }
        let text = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        send(.simple("DEALLOCATE \(text)")) { _ in then() }  // name is ours, never user text
    }

    // MARK: errors

    func connectionError() -> PostgresError {
        shared.withLock { $0.broken = true }
        return PostgresError(kind: .connectionFailure, message: conn.map { Self.connectionMessage($0) } ?? "no connection")
    }

    func brokenError() -> PostgresError {
        PostgresError(kind: .connectionFailure, message: "the connection is closed")
    }

    static func connectionMessage(_ c: OpaquePointer) -> String {
        String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func error(from result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let p = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: p)
        }
        let state = field("C")
        let message = field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(
            kind: state.map(PostgresError.kind(forSQLState:)) ?? .connectionFailure,
            sqlState: state, message: message, constraint: field("n"), schema: field("s"),
            table: field("t"), column: field("c"), detail: field("D"))
    }
}
