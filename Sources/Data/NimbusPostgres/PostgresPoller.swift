import CLibPQ
import CNimbusShims
import Foundation
import Synchronization

/// The hot path for cached prepared statements: the caller sends the statement without blocking
/// (libpq nonblocking mode) and suspends; this one epoll thread, shared by every pool, collects
/// results for all connections and resumes the callers. That saves the wake of a worker thread
/// per statement; slow or rare work (connect, prepare, scripts) stays on the worker threads.
final class PostgresPoller: @unchecked Sendable {
    static let shared = PostgresPoller()

    struct Pending {
        let session: PostgresSession
        let continuation: CheckedContinuation<PostgresResult, any Error>
    }

    private let epfd: Int32
    private let pending = Mutex<[Int32: Pending]>([:])

    private init() {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
        let thread = Thread { [self] in loop() }
        thread.name = "nimbus-pg-poller"
        thread.start()
    }

    /// Hands a connection with a statement in flight to the poller until its result is complete.
    func wait(fd: Int32, session: PostgresSession, needsWrite: Bool, continuation: CheckedContinuation<PostgresResult, any Error>) {
        pending.withLock { $0[fd] = Pending(session: session, continuation: continuation) }
        arm(fd, needsWrite: needsWrite)
    }

    private func arm(_ fd: Int32, needsWrite: Bool) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue | (needsWrite ? EPOLLOUT.rawValue : 0)
        event.data.fd = fd
        if epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) != 0 {
            if errno == ENOENT, epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0 { return }
            let code = errno
            if let p = pending.withLock({ $0.removeValue(forKey: fd) }) {
                p.continuation.resume(throwing: PostgresError(kind: .connectionFailure, message: "cannot watch the connection socket: errno \(code)"))
            }
        }
    }

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), -1) }
            if count < 0 { continue }  // EINTR
            for i in 0..<Int(count) {
                let fd = events[i].data.fd
                guard let p = pending.withLock({ $0[fd] }) else { continue }
                switch p.session.receive() {
                case .needsRead:
                    arm(fd, needsWrite: false)
                case .needsWrite:
                    arm(fd, needsWrite: true)
                case .done(let result):
                    pending.withLock { _ = $0.removeValue(forKey: fd) }
                    p.continuation.resume(with: result)
                }
            }
        }
    }
}
