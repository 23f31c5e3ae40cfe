import CLibPQ
import Foundation
import NimbusEventLoop
import Synchronization

/// One libpq connection, bound for life to one event loop: its socket is registered with that
/// loop and every libpq call on it runs on the loop's thread, so a task that runs on the same
/// loop sends a statement, is resumed with the result and carries on without changing thread.
/// Tasks elsewhere hop to the loop and back. The only call made from other threads is
/// `PQcancel`, which libpq documents as thread-safe.
final class PostgresSession: @unchecked Sendable {
    typealias Completion = (Result<PostgresResult, any Error>) -> Void

    let id: Int
    let loop: EventLoop
    let createdAt: ContinuousClock.Instant
    /// Pool bookkeeping, touched only under the pool's lock.
    var lastReleased: ContinuousClock.Instant
    let configuration: PostgresConfiguration

    // ── loop-confined state ──
    var conn: OpaquePointer?
    /// The socket while it is registered with `loop` (deregistered before the connection closes).
    var registeredFD: Int32 = -1
    /// Cached statement names as C strings (they are passed to libpq on every execution).
    var statements: [StatementKey: [CChar]] = [:]
    var statementOrder: [StatementKey] = []
    var statementCounter = 0
    /// The command in flight and what it has produced so far.
    var operation: Operation?
    /// A statement (one or more commands) is running; statements issued concurrently on one
    /// borrowed connection wait here and run one after another.
    var statementRunning = false
    var waitingStatements: [() -> Void] = []

    /// A class: it is updated in place for every result, never copied.
    final class Operation {
        let completion: Completion
        var error: PostgresError?
        var last: PostgresResult?
        var writing = false
        init(completion: @escaping Completion) { self.completion = completion }
    }

    /// Cross-thread state: the cancel handle, the running statement and the discard verdicts.
    struct Shared {
        var cancelHandle: CancelHandle?
        var running: CancelToken?
        var poisoned = false
        var broken = false
        /// Set when a checkout begins; the first statement then checks the socket is still alive.
        var verifyOnNextStatement = false
    }
    let shared = Mutex(Shared())

    private init(id: Int, loop: EventLoop, configuration: PostgresConfiguration) {
        self.id = id
        self.loop = loop
        self.configuration = configuration
        self.createdAt = .now
        self.lastReleased = .now
    }

    /// Opens a connection (on a short-lived thread: libpq's connect blocks) and registers it
    /// with `loop`.
    static func connect(id: Int, configuration: PostgresConfiguration, loop: EventLoop) async throws -> PostgresSession {
        let opened = try await OpenedConnection.open(configuration)
        let session = PostgresSession(id: id, loop: loop, configuration: configuration)
        do {
            try await loop.submit { try session.adopt(opened) }
        } catch {
            PQfinish(opened.conn)
            throw error
        }
        return session
    }

    /// True when the pool must not reuse this connection (cancel sent, socket dead).
    var mustDiscard: Bool { shared.withLock { $0.poisoned || $0.broken } }

    /// A checkout begins; with `verify` its first statement first checks the socket is alive.
    func markCheckedOut(verify: Bool = true) {
        if verify { shared.withLock { $0.verifyOnNextStatement = true } }
    }

    /// Deregisters and closes the connection on its loop.
    func close() {
        let work: @Sendable () -> Void = { [self] in
            if let operation {
                self.operation = nil
                operation.completion(.failure(brokenError()))
            }
            shared.withLock { s in
                s.cancelHandle = nil
                s.broken = true
            }
            detach()
            if let conn { PQfinish(conn) }
            conn = nil
        }
        if loop.inEventLoop { work() } else { loop.execute(work) }
    }

    // MARK: statements from any task

    /// Runs one statement with its parameters as text; prepared once per connection and cached
    /// unless `prepared` is false.
    func statement(_ sql: String, _ binds: [any PostgresEncodable], prepared: Bool) async throws -> PostgresResult {
        let types = binds.map { type(of: $0).postgresType.rawValue }
        let values = binds.map { $0.postgresText() }
        let cached = prepared && configuration.preparedStatementCacheSize > 0
        let key = StatementKey(sql: sql, types: types)
        return try await perform { session, done in
            if cached {
                session.runPrepared(key: key, sql: sql, types: types, values: values, retried: false, done)
            } else {
                session.send(.params(sql, types: types, values: values), done)
            }
        }
    }

    /// Simple-protocol execution of one or more statements without parameters (scripts, DDL).
    func script(_ sql: String) async throws -> PostgresResult {
        try await perform { session, done in session.send(.simple(sql), done) }
    }

    /// COMMIT, which PostgreSQL turns into a silent ROLLBACK when an earlier statement failed
    /// (and the caller swallowed that error): reported here as an error instead.
    func commit() async throws {
        let result = try await script("COMMIT")
        if String(cString: PQcmdStatus(result.pointer)) == "ROLLBACK" {
            throw PostgresError(kind: .misuse, sqlState: "25P02",
                                message: "the transaction was rolled back: a statement in it failed and its error was caught")
        }
    }

    var transactionStatus: PGTransactionStatusType {
        get async throws {
            try await loop.submit { [self] in conn.map { PQtransactionStatus($0) } ?? PQTRANS_UNKNOWN }
        }
    }

    /// Starts `start` on the loop (right here when the caller already runs on it) and suspends
    /// until it completes. Task cancellation sends a cancel request for the running statement.
    private func perform(_ start: @escaping @Sendable (PostgresSession, @escaping Completion) -> Void) async throws -> PostgresResult {
        let token = CancelToken()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresResult, any Error>) in
                if loop.inEventLoop {
                    begin(token: token, continuation: continuation, start)
                } else {
                    loop.execute { [self] in begin(token: token, continuation: continuation, start) }
                }
            }
        } onCancel: {
            cancel(token)
        }
    }

    /// On the loop: checks cancellation and (first statement of a checkout) the socket, then starts.
    private func begin(token: CancelToken, continuation: CheckedContinuation<PostgresResult, any Error>,
                       _ start: @escaping @Sendable (PostgresSession, @escaping Completion) -> Void) {
        if statementRunning {
            waitingStatements.append { [self] in begin(token: token, continuation: continuation, start) }
            return
        }
        let (cancelled, verify) = shared.withLock { s -> (Bool, Bool) in
            if token.isCancelled { return (true, false) }
            s.running = token
            defer { s.verifyOnNextStatement = false }
            return (false, s.verifyOnNextStatement)
        }
        if cancelled {
            continuation.resume(throwing: PostgresError(kind: .queryCanceled, sqlState: "57014", message: "cancelled before it was sent"))
            return
        }
        statementRunning = true
        let done: Completion = { [self] result in
            shared.withLock { $0.running = nil }
            statementRunning = false
            continuation.resume(with: result)
            if !waitingStatements.isEmpty { waitingStatements.removeFirst()() }
        }
        guard verify, isDead() else { return start(self, done) }
        // A connection idle in the pool was closed by the server (restart, idle timeout):
        // start afresh before the first statement, which was never sent.
        reconnect { [self] outcome in
            switch outcome {
            case .success: start(self, done)
            case .failure(let error): done(.failure(error))
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
        // PQcancel connects and waits for the server: never on the cancelling (maybe loop) thread.
        if let handle { Thread.detachNewThread { handle.send() } }
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

/// A value that crosses a `@Sendable` boundary but is only ever touched on one loop's thread.
struct LoopBound<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A prepared statement's cache key: its text and parameter types.
struct StatementKey: Hashable, Sendable {
    let sql: String
    let types: [UInt32]
}

/// Calls `body` with a C array of C strings (NULL for nil) valid for the call's duration. The
/// copies share one buffer (on the stack when small): this runs for every statement.
func withCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    var total = 0
    for string in strings { if let string { total += string.utf8.count + 1 } }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(total, 1)) { bytes in
        withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: max(strings.count, 1)) { pointers in
            var offset = 0
            for (index, string) in strings.enumerated() {
                guard let string else { pointers[index] = nil; continue }
                let start = bytes.baseAddress! + offset
                var count = 0
                for byte in string.utf8 { start[count] = byte; count += 1 }
                start[count] = 0
                pointers[index] = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
                offset += count + 1
            }
            return body(UnsafePointer(pointers.baseAddress))
        }
    }
}

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in copies { free(p) } }
    let pointers = copies.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
