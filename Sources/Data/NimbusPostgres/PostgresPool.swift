import Logging
import NimbusEventLoop
import Synchronization

/// A bounded pool of libpq connections. Waiters are served first come, first served and give up
/// after `acquireTimeout`; connections are recycled on lifetime and idle time and discarded when
/// broken, so a PostgreSQL restart is survived without restarting the service.
///
/// Callers suspend, never block. Each connection lives on one event loop, which sends its
/// statements with libpq's nonblocking API and collects the results when the socket is readable.
/// A task running on one of the pool's `eventLoops` (an RPC handler on its connection's loop)
/// borrows a connection of that same loop, so a query never changes thread; other callers hop
/// to the connection's loop and back. Only connecting (libpq's connect blocks) and `PQcancel`
/// run on threads of their own. See Sources/Data/README.md for the thread model.
///
///     let pool = try PostgresPool(configuration: .init(dsn: dsn), name: "identity", logger: logger)
///     let rows = try await pool.query("SELECT id, name FROM users WHERE tenant_id = $1", tenantID)
///     for row in rows { let (id, name) = try row.decode((UUID, String).self) }
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    public let name: String
    let logger: Logger
    let metrics: PostgresPoolMetrics

    struct Waiter {
        let id: Int
        /// The loop the waiting task runs on, for a connection opened on its behalf.
        let loop: EventLoop?
        let continuation: CheckedContinuation<PostgresSession, any Error>
        let enqueued: ContinuousClock.Instant
    }

    struct State {
        var idle: [PostgresSession] = []
        /// Open connections, including those being connected and those checked out.
        var open = 0
        var checkedOut = 0
        var waiters: [Waiter] = []
        var nextID = 0
        var closed = false
        var timeouts = 0
        var discarded = 0
        var connectFailures = 0
    }

    let state = Mutex(State())
    /// Loops whose tasks get connections of their own loop (see `useEventLoops`).
    let callerLoops: Mutex<[EventLoop]>
    private let maintenance = Mutex<Task<Void, Never>?>(nil)

    /// Validates the configuration (throws `PostgresConfiguration.Invalid`) and starts the
    /// background maintenance; connections open on demand and up to `minConnections` in the background.
    /// Tasks running on one of `eventLoops` run their queries on their own loop (see `useEventLoops`).
    public init(configuration: PostgresConfiguration, name: String = "default", logger: Logger = Logger(label: "nimbus.postgres"),
                eventLoops: [EventLoop] = []) throws {
        try configuration.validate()
        self.callerLoops = Mutex(eventLoops)
        self.configuration = configuration
        self.name = name
        self.logger = logger
        self.metrics = PostgresPoolMetrics(pool: name)
        let tick = min(configuration.healthCheckPeriod, .seconds(1))
        // Holds the pool only while a step runs, so an abandoned pool still deinitializes.
        let task = Task { [weak self] in
            var sinceCheck: Duration? = nil
            while !Task.isCancelled {
                do {
                    guard let pool = self else { return }
                    sinceCheck = await pool.maintenanceStep(sinceCheck: sinceCheck)
                }
                try? await Task.sleep(for: tick)
                sinceCheck = sinceCheck.map { $0 + tick }
            }
        }
        maintenance.withLock { $0 = task }
    }

    deinit {
        // A pool dropped without `close()` still ends its connections and their threads.
        maintenance.withLock { $0?.cancel() }
        for session in state.withLock({ s in defer { s.idle = [] }; return s.idle }) { session.close() }
    }

    // MARK: public API

    /// Borrows a connection for the duration of `body`.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let session = try await acquire()
        let connection = PostgresConnection(session: session)
        do {
            let value = try await body(connection)
            connection.invalidate()
            release(session)
            return value
        } catch {
            connection.invalidate()
            release(session)
            throw error
        }
    }

    /// Runs one parameterized statement on any free connection (prepared and cached).
    @discardableResult
    public func query(_ sql: String, _ binds: any PostgresEncodable...) async throws -> PostgresRows {
        try await query(sql, binds: binds)
    }

    @discardableResult
    public func query(_ sql: String, binds: [any PostgresEncodable]) async throws -> PostgresRows {
        // `withConnection` + `PostgresConnection.query`, minus the borrowed-connection object:
        // this is the path of every point query.
        let session = try await acquire()
        do {
            let result = try await session.statement(sql, binds, prepared: true)
            release(session)
            return PostgresRows(result: result)
        } catch {
            release(session)
            throw error
        }
    }

    /// Runs one parameterized statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ binds: any PostgresEncodable...) async throws -> Int {
        try await query(sql, binds: binds).affectedRows
    }

    /// Borrows a connection and runs `SELECT 1` through it: the readiness probe.
    public func ping() async throws {
        try await withConnection { _ = try await $0.query("SELECT 1") }
    }

    /// Closes idle connections, fails waiters and makes further use fail with `.poolClosed`.
    /// Connections checked out are closed when returned.
    public func close() async {
        let (idle, waiters) = state.withLock { s -> ([PostgresSession], [Waiter]) in
            s.closed = true
            let idle = s.idle, waiters = s.waiters
            s.open -= idle.count
            s.idle = []
            s.waiters = []
            return (idle, waiters)
        }
        maintenance.withLock { $0?.cancel() }
        for w in waiters { w.continuation.resume(throwing: PostgresError(kind: .poolClosed, message: "the pool \(name) was closed")) }
        for session in idle { session.close() }
    }

    /// A snapshot of the pool, also exported as metrics.
    public struct Statistics: Sendable, Equatable {
        public var open: Int
        public var idle: Int
        public var inUse: Int
        public var waiting: Int
        public var maxConnections: Int
        public var acquireTimeouts: Int
        public var discarded: Int
        public var connectFailures: Int
    }

    public var statistics: Statistics {
        state.withLock { s in
            Statistics(open: s.open, idle: s.idle.count, inUse: s.checkedOut, waiting: s.waiters.count,
                       maxConnections: configuration.maxConnections, acquireTimeouts: s.timeouts,
                       discarded: s.discarded, connectFailures: s.connectFailures)
        }
    }
}
