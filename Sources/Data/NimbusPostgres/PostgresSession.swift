import CLibPQ
import Foundation
import Synchronization

/// One libpq connection and the worker thread that alone touches it. The only call made from
/// other threads is `cancel`, through libpq's thread-safe `PQcancel`.
final class PostgresSession: @unchecked Sendable {
    let id: Int
    let createdAt: ContinuousClock.Instant
    /// Pool bookkeeping, touched only under the pool's lock.
    var lastReleased: ContinuousClock.Instant

    private let worker: PostgresWorker
    private let configuration: PostgresConfiguration
    // Worker-thread state.
    private var conn: OpaquePointer?
    private var statements: [String: String] = [:]
    private var statementOrder: [String] = []
    private var statementCounter = 0
    /// The fast path's result while the rest of the response is still arriving (poller thread).
    private var inflight: Result<PostgresResult, any Error>?

    /// Cross-thread state: the cancel handle and whether a cancel was ever sent.
    private struct Shared {
        var cancelHandle: CancelHandle?
        var running: CancelToken?
        var poisoned = false
        var broken = false
        /// Set when a checkout begins; the first job then verifies the socket is still alive.
        var verifyOnNextJob = false
    }
    private let shared = Mutex(Shared())

    private init(id: Int, configuration: PostgresConfiguration) {
        self.id = id
        self.configuration = configuration
        self.createdAt = .now
        self.lastReleased = .now
        self.worker = PostgresWorker(name: "nimbus-pg-\(id)")
    }

    /// Opens a connection on a new worker thread.
    static func connect(id: Int, configuration: PostgresConfiguration) async throws -> PostgresSession {
        let session = PostgresSession(id: id, configuration: configuration)
        do {
            try await session.onWorker(token: nil) { try $0.open() }
        } catch {
            session.worker.stop()
            throw error
        }
        return session
    }

    /// True when the pool must not reuse this connection (cancel sent, socket dead).
    var mustDiscard: Bool { shared.withLock { $0.poisoned || $0.broken } }

    func markCheckedOut() {
        shared.withLock { $0.verifyOnNextJob = true }
    }

    /// Closes the connection and ends the worker thread.
    func close() {
        worker.submit { [self] in
            shared.withLock { s in
                s.cancelHandle = nil
                s.broken = true
            }
            if let conn { PQfinish(conn) }
            conn = nil
        }
        worker.stop()
    }

    // MARK: running work on the worker

    /// Runs `body` on the worker thread; the calling task suspends, never blocks. Task
    /// cancellation sends a cancel request to the server for the running statement.
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let token = CancelToken()
        return try await withTaskCancellationHandler {
            try await onWorker(token: token, body)
        } onCancel: {
            cancel(token)
        }
    }

    private func onWorker<T: Sendable>(token: CancelToken?, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            worker.submit { [self] in
                let (cancelled, verify) = shared.withLock { s -> (Bool, Bool) in
                    guard let token else { return (false, false) }
                    if token.isCancelled { return (true, false) }
                    s.running = token
                    defer { s.verifyOnNextJob = false }
                    return (false, s.verifyOnNextJob)
                }
                if cancelled {
                    continuation.resume(throwing: PostgresError(kind: .queryCanceled, sqlState: "57014", message: "cancelled before it was sent"))
                    return
                }
                let result = Result { () throws -> T in
                    if verify { try reviveIfDead() }
                    return try body(self)
                }
                if token != nil { shared.withLock { $0.running = nil } }
                continuation.resume(with: result)
            }
        }
    }

    private func cancel(_ token: CancelToken) {
        let handle = shared.withLock { s -> CancelHandle? in
            token.isCancelled = true
            guard s.running === token, let handle = s.cancelHandle else { return nil }
            // A late cancel could hit the next statement on this backend: never reuse it.
            s.poisoned = true
            return handle
        }
        // PQcancel connects and waits for the server: never on the cancelling (maybe event-loop) thread.
        if let handle { Thread.detachNewThread { handle.send() } }
    }

    // MARK: the fast path (caller thread sends, the poller receives)

    /// Runs a statement already prepared on this connection without any worker thread: nil when
    /// it is not cached (or the connection needs checking first), so the caller takes `run`.
    func executeCached(_ sql: String, _ binds: [any PostgresEncodable]) async throws -> PostgresResult? {
        let token = CancelToken()
        return try await withTaskCancellationHandler {
            try await sendCached(sql, binds, token: token)
        } onCancel: {
            cancel(token)
        }
    }

    private func sendCached(_ sql: String, _ binds: [any PostgresEncodable], token: CancelToken) async throws -> PostgresResult? {
        let types = binds.map { type(of: $0).postgresType.rawValue }
        let key = types.isEmpty ? sql : sql + "\u{0}" + types.map(String.init).joined(separator: ",")
        // Only this borrower uses the connection now; the awaits that ordered its earlier
        // operations make the worker's writes (the statement cache) visible here.
        guard let c = conn, let name = statements[key] else { return nil }
        let go = shared.withLock { s -> Bool? in
            if s.verifyOnNextJob || s.broken { return false }
            if token.isCancelled { return nil }
            s.running = token
            return true
        }
        guard let go else { throw PostgresError(kind: .queryCanceled, sqlState: "57014", message: "cancelled before it was sent") }
        guard go else { return nil }
        let texts = binds.map { $0.postgresText() }
        let sent = withCStringArray(texts) { values in PQsendQueryPrepared(c, name, Int32(binds.count), values, nil, nil, 0) }
        guard sent == 1 else {
            shared.withLock { $0.running = nil }
            throw connectionError()
        }
        let flushed = PQflush(c)
        if flushed < 0 {
            shared.withLock { $0.running = nil }
            throw connectionError()
        }
        let fd = PQsocket(c)
        defer { shared.withLock { $0.running = nil } }
        return try await withCheckedThrowingContinuation { continuation in
            PostgresPoller.shared.wait(fd: fd, session: self, needsWrite: flushed == 1, continuation: continuation)
        }
    }

    enum Progress {
        case needsRead
        case needsWrite
        case done(Result<PostgresResult, any Error>)
    }

    /// On the poller thread, when the socket is ready: reads what arrived and, once the
    /// statement's result and ReadyForQuery are in, hands the result back.
    func receive() -> Progress {
        guard let c = conn else { return .done(.failure(brokenError())) }
        let flush = PQflush(c)
        if flush < 0 { return .done(.failure(connectionError())) }
        if flush == 1 { return .needsWrite }
        if PQconsumeInput(c) == 0 {
            inflight = nil
            return .done(.failure(connectionError()))
        }
        while true {
            if PQisBusy(c) == 1 { return .needsRead }  // PQgetResult would block: wait for more
            guard let r = PQgetResult(c) else { break }
            if inflight == nil { inflight = Result { try check(r) } } else { PQclear(r) }
        }
        let outcome = inflight ?? .failure(PostgresError(kind: .server, message: "the server sent no result"))
        inflight = nil
        return .done(outcome)
    }

    // MARK: worker-thread operations

    private func open() throws {
        var keys = ["dbname", "fallback_application_name"]
        var values = [configuration.dsn.raw, configuration.applicationName]
        if !configuration.dsn.parameters.contains(where: { $0.key == "connect_timeout" }) {
            keys.append("connect_timeout")
            values.append(String(max(1, configuration.connectTimeout.components.seconds)))
        }
        let c = withCStringArray(keys) { k in withCStringArray(values) { v in PQconnectdbParams(k, v, 1) } }
        conn = c
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let message = c.map { Self.connectionMessage($0) } ?? "out of memory"
            if let c { PQfinish(c) }
            conn = nil
            shared.withLock { $0.broken = true }
            throw PostgresError(kind: .connectionFailure, message: "cannot connect to \(configuration.dsn): \(message)")
        }
        PQsetNoticeProcessor(c, { _, _ in }, nil)  // notices are not errors; keep stderr clean
        // Sends from the fast path must not block; PQexec and friends still block (libpq documents it).
        PQsetnonblocking(c, 1)
        var setup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3"
        if let timeout = configuration.statementTimeout {
            setup += "; SET statement_timeout = \(timeout.nimbusMilliseconds)"
        }
        _ = try executeScript(setup)
        statements = [:]
        statementOrder = []
        let handle = PQgetCancel(c).map(CancelHandle.init)
        shared.withLock { s in
            s.cancelHandle = handle
            s.broken = false
        }
    }

    /// A connection idle in the pool may have been closed by the server (restart, idle timeout).
    /// The socket is then readable; if consuming shows it dead, reconnect once.
    private func reviveIfDead() throws {
        guard let c = conn else { return try open() }
        if PQstatus(c) == CONNECTION_OK {
            var fds = pollfd(fd: PQsocket(c), events: Int16(POLLIN), revents: 0)
            if poll(&fds, 1, 0) == 0 { return }
            // An idle session is sent nothing (Nimbus does not LISTEN) except a server's goodbye
            // (FATAL 57P01 on shutdown, then EOF): anything readable means start afresh.
        }
        PQfinish(c)
        conn = nil
        try open()
    }

    /// Prepared (cached per connection) or one-shot extended-protocol execution.
    func execute(_ sql: String, _ binds: [any PostgresEncodable], prepared: Bool) throws -> PostgresResult {
        guard let c = conn else { throw brokenError() }
        let types = binds.map { type(of: $0).postgresType.rawValue }
        let texts = binds.map { $0.postgresText() }
        if !prepared || configuration.preparedStatementCacheSize == 0 {
            let r = withCStringArray(texts) { values in
                PQexecParams(c, sql, Int32(binds.count), types, values, nil, nil, 0)
            }
            return try check(r)
        }
        let key = types.isEmpty ? sql : sql + "\u{0}" + types.map(String.init).joined(separator: ",")
        var retried = false
        while true {
            let name = try preparedName(for: key, sql: sql, types: types)
            let r = withCStringArray(texts) { values in
                PQexecPrepared(c, name, Int32(binds.count), values, nil, nil, 0)
            }
            do {
                return try check(r)
            } catch let error as PostgresError where !retried && error.sqlState == "0A000"
                && error.message.contains("cached plan") && PQtransactionStatus(c) == PQTRANS_IDLE {
                // A migration changed a table under a cached statement: prepare it again once.
                forget(key: key)
                retried = true
            }
        }
    }

    private func preparedName(for key: String, sql: String, types: [UInt32]) throws -> String {
        if let name = statements[key] { return name }
        guard let c = conn else { throw brokenError() }
        if statements.count >= configuration.preparedStatementCacheSize, let oldest = statementOrder.first {
            forget(key: oldest)
        }
        statementCounter += 1
        let name = "nimbus_\(statementCounter)"
        _ = try check(PQprepare(c, name, sql, Int32(types.count), types))
        statements[key] = name
        statementOrder.append(key)
        return name
    }

    private func forget(key: String) {
        guard let name = statements.removeValue(forKey: key), let c = conn else { return }
        statementOrder.removeAll { $0 == key }
        if PQtransactionStatus(c) == PQTRANS_IDLE {
            PQclear(PQexec(c, "DEALLOCATE \(name)"))  // name is ours, never user text
        }
    }

    /// Simple-protocol execution of one or more statements without parameters (scripts, DDL).
    func executeScript(_ sql: String) throws -> PostgresResult {
        guard let c = conn else { throw brokenError() }
        return try check(PQexec(c, sql))
    }

    /// COMMIT, which PostgreSQL turns into a silent ROLLBACK when an earlier statement failed
    /// (and the caller swallowed that error): reported here as an error instead.
    func commit() throws {
        let result = try executeScript("COMMIT")
        if String(cString: PQcmdStatus(result.pointer)) == "ROLLBACK" {
            throw PostgresError(kind: .misuse, sqlState: "25P02",
                                message: "the transaction was rolled back: a statement in it failed and its error was caught")
        }
    }

    var transactionStatus: PGTransactionStatusType {
        conn.map { PQtransactionStatus($0) } ?? PQTRANS_UNKNOWN
    }

    // MARK: results and errors

    private func check(_ result: OpaquePointer?) throws -> PostgresResult {
        guard let result else { throw connectionError() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(result)
        default:
            let error = Self.error(from: result)
            PQclear(result)
            if let c = conn, PQstatus(c) != CONNECTION_OK {
                shared.withLock { $0.broken = true }
                var e = error
                e.kind = .connectionFailure
                throw e
            }
            if error.kind == .connectionFailure { shared.withLock { $0.broken = true } }
            throw error
        }
    }

    private func connectionError() -> PostgresError {
        shared.withLock { $0.broken = true }
        return PostgresError(kind: .connectionFailure, message: conn.map { Self.connectionMessage($0) } ?? "no connection")
    }

    private func brokenError() -> PostgresError {
        PostgresError(kind: .connectionFailure, message: "the connection is closed")
    }

    private static func connectionMessage(_ c: OpaquePointer) -> String {
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

/// libpq's PGcancel, whose use from any thread libpq documents as safe. A class so a cancel
/// in flight keeps it alive while the session replaces or drops it.
final class CancelHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQfreeCancel(pointer) }

    /// Opens a separate connection to the server and asks it to cancel the backend's statement.
    func send() {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(pointer, &buffer, Int32(buffer.count))
    }
}

/// Marks one statement's cancellation; compared by identity.
final class CancelToken: @unchecked Sendable {
    // Read and written only under the session's `shared` lock.
    var isCancelled = false
}

/// Calls `body` with a C array of C strings (NULL for nil) valid for the call's duration.
func withCStringArray<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in copies { free(p) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in copies { free(p) } }
    let pointers = copies.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
