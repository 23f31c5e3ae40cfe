import CLibPQ
import Foundation
import Synchronization

/// LISTEN on PostgreSQL notification channels over a connection of its own, outside the pool.
///
/// The connection waits on a thread of its own (blocking `poll` on its socket), not on an event
/// loop: it is one per process, idle nearly all the time, and a pooled session treats anything
/// readable while idle as the server's goodbye. Notifications are not durable — one sent while
/// the connection is down is lost — so every (re)connect is reported as `.connected`, after the
/// LISTEN took effect: a consumer re-reads whatever state the channel announces changes of.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        /// Listening (first time or again): changes from now on are announced.
        case connected
        case notification(channel: String, payload: String)
        /// The connection failed or could not be opened; retried with backoff. No secret inside.
        case disconnected(reason: String)
    }

    public let configuration: PostgresConfiguration
    public let channels: [String]
    /// Longest wait between reconnect attempts.
    public let maxBackoff: Duration

    /// - Parameter channels: plain lowercase identifiers (`[a-z_][a-z0-9_]*`), as NOTIFY names them.
    public init(configuration: PostgresConfiguration, channels: [String], maxBackoff: Duration = .seconds(2)) throws {
        for channel in channels where !Self.isPlainIdentifier(channel) {
            throw PostgresError(kind: .misuse, message: "LISTEN channel \(channel.debugDescription) is not a plain lowercase identifier")
        }
        precondition(!channels.isEmpty, "a listener needs a channel")
        self.configuration = configuration
        self.channels = channels
        self.maxBackoff = maxBackoff
    }

    /// Starts listening on a new thread; the stream ends when its consumer stops iterating (the
    /// thread notices within a poll interval, closes the connection and exits).
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let stopped = StopFlag()
        continuation.onTermination = { _ in stopped.set() }
        let run = ListenerThread(listener: self, continuation: continuation, stopped: stopped)
        Thread.detachNewThread { run.main() }
        return stream
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              name.utf8.count <= 63 else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// The listener's thread: connect, LISTEN, wait for notifications; on any failure report it,
/// back off and start over, until the consumer goes away.
private struct ListenerThread: @unchecked Sendable {
    let listener: PostgresListener
    let continuation: AsyncStream<PostgresListener.Event>.Continuation
    let stopped: StopFlag
    /// How long one `poll` waits: the bound on noticing that the consumer went away.
    let pollMilliseconds: Int32 = 200

    func main() {
        var backoff = Duration.milliseconds(50)
        while !stopped.isSet {
            do {
                let opened = try OpenedConnection.openBlocking(listener.configuration)
                defer { PQfinish(opened.conn) }
                try listen(on: opened.conn)
                backoff = .milliseconds(50)
                continuation.yield(.connected)
                try receive(on: opened.conn)
            } catch {
                if stopped.isSet { break }
                continuation.yield(.disconnected(reason: "\(error)"))
                sleep(backoff)
                backoff = min(backoff * 2, listener.maxBackoff)
            }
        }
        continuation.finish()
    }

    private func listen(on c: OpaquePointer) throws {
        PQsetnonblocking(c, 0)  // this thread may block; PQexec wants blocking mode
        let sql = listener.channels.map { "LISTEN \($0)" }.joined(separator: "; ")
        guard let result = PQexec(c, sql) else {
            throw PostgresError(kind: .connectionFailure, message: PostgresSession.connectionMessage(c))
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw PostgresSession.error(from: result) }
    }

    /// Returns only by throwing (connection lost) or when the consumer is gone.
    private func receive(on c: OpaquePointer) throws {
        var fds = pollfd(fd: PQsocket(c), events: Int16(POLLIN), revents: 0)
        while !stopped.isSet {
            fds.revents = 0
            let ready = poll(&fds, 1, pollMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { throw PostgresError(kind: .connectionFailure, message: "poll: errno \(errno)") }
            if ready == 0 { continue }
            guard PQconsumeInput(c) == 1 else {
                throw PostgresError(kind: .connectionFailure, message: PostgresSession.connectionMessage(c))
            }
            while let notice = PQnotifies(c) {
                continuation.yield(.notification(channel: String(cString: notice.pointee.relname),
                                                 payload: String(cString: notice.pointee.extra)))
                PQfreemem(notice)
            }
            if PQstatus(c) != CONNECTION_OK {
                throw PostgresError(kind: .connectionFailure, message: PostgresSession.connectionMessage(c))
            }
        }
    }

    /// Sleeps `duration` in short steps, so a consumer that leaves is noticed.
    private func sleep(_ duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while !stopped.isSet, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: min(Double(pollMilliseconds) / 1000, (deadline - ContinuousClock.now).nimbusSeconds))
        }
    }
}
