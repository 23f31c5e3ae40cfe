import CLibPQ
import Foundation
import NimbusEventLoop
import Synchronization

/// A freshly opened, configured libpq connection not yet owned by any loop.
struct OpenedConnection: @unchecked Sendable {
    let conn: OpaquePointer
    let cancel: CancelHandle?

    /// Connects on a short-lived thread of its own (`PQconnectdbParams` and the session setup
    /// block), so neither a loop nor the cooperative pool waits for the server.
    static func open(_ configuration: PostgresConfiguration) async throws -> OpenedConnection {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try openBlocking(configuration) })
            }
        }
    }

    static func openBlocking(_ configuration: PostgresConfiguration) throws -> OpenedConnection {
        var keys = ["dbname", "fallback_application_name"]
        var values = [configuration.dsn.raw, configuration.applicationName]
        if !configuration.dsn.parameters.contains(where: { $0.key == "connect_timeout" }) {
            keys.append("connect_timeout")
            values.append(String(max(1, configuration.connectTimeout.components.seconds)))
        }
        let connection = withCStringArray(keys) { k in withCStringArray(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let c = connection, PQstatus(c) == CONNECTION_OK else {
            let message = connection.map { PostgresSession.connectionMessage($0) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            throw PostgresError(kind: .connectionFailure, message: "cannot connect to \(configuration.dsn): \(message)")
        }
        PQsetNoticeProcessor(c, { _, _ in }, nil)  // notices are not errors; keep stderr clean
        var setup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3"
        if let timeout = configuration.statementTimeout {
            setup += "; SET statement_timeout = \(timeout.nimbusMilliseconds)"
        }
        let result = PQexec(c, setup)
        defer { PQclear(result) }
        guard let result, PQresultStatus(result) == PGRES_COMMAND_OK else {
            let error = result.map(PostgresSession.error(from:))
                ?? PostgresError(kind: .connectionFailure, message: PostgresSession.connectionMessage(c))
            PQfinish(c)
            throw error
        }
        // From here on the connection lives on a loop: sends must never block it.
        PQsetnonblocking(c, 1)
        return OpenedConnection(conn: c, cancel: PQgetCancel(c).map(CancelHandle.init))
    }
}

extension PostgresSession {
    /// On the loop: takes over an opened connection and watches its socket.
    func adopt(_ opened: OpenedConnection) throws {
        let fd = PQsocket(opened.conn)
        try loop.register(fd, events: .readable, handler: self)
        registeredFD = fd
        conn = opened.conn
        statements = [:]
        statementOrder = []
        shared.withLock { s in
            s.cancelHandle = opened.cancel
            s.broken = false
        }
    }

    /// On the loop: stops watching the socket (before the connection closes it).
    func detach() {
        guard registeredFD >= 0 else { return }
        loop.deregister(registeredFD)
        registeredFD = -1
    }

    /// On the loop, with nothing in flight: true when the server has closed the connection.
    /// An idle session is sent nothing (pooled sessions never LISTEN; `PostgresListener` has a
    /// connection of its own) except a server's goodbye
    /// (FATAL 57P01 on shutdown, then EOF): anything readable means start afresh.
    func isDead() -> Bool {
        guard let c = conn, registeredFD >= 0, PQstatus(c) == CONNECTION_OK, !shared.withLock({ $0.broken }) else { return true }
        var fds = pollfd(fd: registeredFD, events: Int16(POLLIN), revents: 0)
        return poll(&fds, 1, 0) != 0
    }

    /// On the loop: replaces a dead connection with a new one (opened off the loop).
    func reconnect(_ then: @escaping (Result<Void, any Error>) -> Void) {
        detach()
        if let conn { PQfinish(conn) }
        conn = nil
        let then = LoopBound(then)
        let configuration = self.configuration
        Task { [self] in
            do {
                let opened = try await OpenedConnection.open(configuration)
                loop.execute { [self] in
                    do {
                        try adopt(opened)
                        then.value(.success(()))
                    } catch {
                        PQfinish(opened.conn)
                        shared.withLock { $0.broken = true }
                        then.value(.failure(error))
                    }
                }
            } catch {
                loop.execute { [self] in
                    shared.withLock { $0.broken = true }
                    then.value(.failure(error))
                }
            }
        }
    }
}
