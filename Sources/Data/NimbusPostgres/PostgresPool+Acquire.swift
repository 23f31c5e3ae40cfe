import CoreMetrics
import Logging
import NimbusEventLoop
import Synchronization

extension PostgresPool {
    private enum AcquireStep {
        case use(PostgresSession, verify: Bool)
        case connect(id: Int)
        case wait
        case fail(PostgresError)
    }

    /// A connection for the calling task: an idle one of the caller's loop, else a new one on
    /// that loop while there is room, else any idle one, else a place in the queue.
    func acquire() async throws -> PostgresSession {
        if Task.isCancelled { throw CancellationError() }
        let caller = currentLoop()
        var expired: [PostgresSession] = []
        let now = ContinuousClock.now
        let step = state.withLock { s -> AcquireStep in
            if s.closed { return .fail(PostgresError(kind: .poolClosed, message: "the pool \(name) is closed")) }
            func take(at index: Int) -> AcquireStep? {
                let session = s.idle.remove(at: index)
                if isExpired(session, now: now) {
                    s.open -= 1
                    s.discarded += 1
                    expired.append(session)
                    return nil
                }
                s.checkedOut += 1
                // The connection's loop sees a server's goodbye as it arrives; a socket check
                // before the first statement covers connections that sat idle a while.
                return .use(session, verify: now - session.lastReleased >= .milliseconds(100))
            }
            // An expired connection taken out frees room: look again from the top.
            while true {
                if let caller, let index = s.idle.lastIndex(where: { $0.loop === caller }) {
                    if let use = take(at: index) { return use }
                    continue
                }
                if s.open < configuration.maxConnections {
                    s.open += 1
                    s.checkedOut += 1
                    s.nextID += 1
                    return .connect(id: s.nextID)
                }
                guard !s.idle.isEmpty else { break }
                if let use = take(at: s.idle.count - 1) { return use }
            }
            return .wait
        }
        for session in expired { session.close() }
        switch step {
        case .use(let session, let verify):
            session.markCheckedOut(verify: verify)
            return session
        case .connect(let id):
            do {
                let loop = try loopForNewConnection(id: id, caller: caller)
                return try await PostgresSession.connect(id: id, configuration: configuration, loop: loop)
            } catch {
                state.withLock { s in s.open -= 1; s.checkedOut -= 1; s.connectFailures += 1 }
                metrics.connectFailures.increment()
                connectForWaitersIfPossible()
                throw error
            }
        case .wait:
            return try await waitForConnection(caller: caller)
        case .fail(let error):
            throw error
        }
    }

    private func waitForConnection(caller: EventLoop?) async throws -> PostgresSession {
        let id = state.withLock { s -> Int in s.nextID += 1; return s.nextID }
        let timeout = configuration.acquireTimeout
        // The acquire timeout. On a loop it is a loop timer: a sleeping task per wait (created,
        // then cancelled when a connection came first) woke a thread of the global pool twice
        // per wait, which under a saturated pool was most of a request's CPU.
        let loopTimer: (loop: EventLoop, timer: EventLoopTimer)?
        let timeoutTask: Task<Void, Never>?
        if let caller, caller.inEventLoop {
            // Strong capture: the timer is always cancelled or fired, and the pool outlives it.
            loopTimer = (caller, caller.scheduleTimer(after: timeout) { self.failWaiter(id: id, timedOut: true) })
            timeoutTask = nil
        } else {
            loopTimer = nil
            timeoutTask = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self?.failWaiter(id: id, timedOut: true) }
            }
        }
        defer {
            if let (loop, timer) = loopTimer {
                if loop.inEventLoop { loop.cancelTimer(timer) } else { loop.execute { loop.cancelTimer(timer) } }
            }
            timeoutTask?.cancel()
        }
        let session = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresSession, any Error>) in
                var immediate: PostgresSession?
                var closed = false
                // Cancelled before the waiter is registered: the cancel handler found nothing to fail.
                if Task.isCancelled { continuation.resume(throwing: CancellationError()); return }
                state.withLock { s in
                    if s.closed { closed = true; return }
                    // A connection may have come back between the first look and now.
                    if let session = s.idle.popLast() {
                        s.checkedOut += 1
                        immediate = session
                        return
                    }
                    s.waiters.append(Waiter(id: id, loop: caller, continuation: continuation, enqueued: .now))
                }
                if let immediate { continuation.resume(returning: immediate) }
                else if closed { continuation.resume(throwing: PostgresError(kind: .poolClosed, message: "the pool \(name) is closed")) }
            }
        } onCancel: {
            failWaiter(id: id, timedOut: false)
        }
        session.markCheckedOut()
        return session
    }

    private func failWaiter(id: Int, timedOut: Bool) {
        let waiter = state.withLock { s -> Waiter? in
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            if timedOut { s.timeouts += 1 }
            return s.waiters.remove(at: index)
        }
        guard let waiter else { return }
        if timedOut {
            metrics.acquireTimeouts.increment()
            let stats = statistics
            waiter.continuation.resume(throwing: PostgresError(
                kind: .poolTimeout,
                message: "no connection free in pool \(name) after \(configuration.acquireTimeout) "
                    + "(\(stats.inUse) of \(configuration.maxConnections) in use, \(stats.waiting) waiting)"))
        } else {
            waiter.continuation.resume(throwing: CancellationError())
        }
    }

    /// Returns a borrowed connection: handed to the longest waiter, kept idle, or closed when
    /// broken, cancelled mid-statement, past its lifetime, or the pool is closed.
    func release(_ session: PostgresSession, probe: Bool = false) {
        let now = ContinuousClock.now
        let discard = session.mustDiscard || now - session.createdAt >= configuration.maxLifetime
        var handTo: Waiter?
        var close = false
        state.withLock { s in
            s.checkedOut -= 1
            if discard || s.closed {
                s.open -= 1
                s.discarded += 1
                close = true
                return
            }
            if !s.waiters.isEmpty {
                let next = Self.handoffIndex(s.waiters.lazy.map { (loop: $0.loop, enqueued: $0.enqueued) }, to: session.loop, now: now)
                handTo = s.waiters.remove(at: next)
                s.checkedOut += 1
                return
            }
            // A health probe is not use: the connection stays as idle as it was.
            if !probe { session.lastReleased = now }
            s.idle.append(session)
        }
        if let handTo {
            metrics.recordWait(now - handTo.enqueued)
            handTo.continuation.resume(returning: session)
        }
        if close {
            if session.mustDiscard { logger.debug("discarding a broken or cancelled connection", metadata: ["db.pool": "\(name)"]) }
            session.close()
            connectForWaitersIfPossible()
        }
    }

    /// Which waiter gets a returned connection: the oldest one on the connection's own loop
    /// (its statements then run without a thread hop), unless the oldest waiter of all has
    /// waited more than `handoffPatience`: arrival order wins then, so no loop starves.
    static func handoffIndex<Waiters: RandomAccessCollection>(_ waiters: Waiters, to loop: EventLoop, now: ContinuousClock.Instant) -> Int
    where Waiters.Element == (loop: EventLoop?, enqueued: ContinuousClock.Instant), Waiters.Index == Int {
        guard let oldest = waiters.first, now - oldest.enqueued <= handoffPatience else { return 0 }
        return waiters.firstIndex { $0.loop === loop } ?? 0
    }

    static let handoffPatience: Duration = .milliseconds(2)

    /// After a connection was discarded or failed to open, waiters would otherwise sit until
    /// their timeout although there is room: open one for the longest waiter.
    func connectForWaitersIfPossible() {
        let opening = state.withLock { s -> (id: Int, loop: EventLoop?)? in
            guard !s.closed, let first = s.waiters.first, s.open < configuration.maxConnections else { return nil }
            s.open += 1
            s.nextID += 1
            return (s.nextID, first.loop)
        }
        guard let (id, caller) = opening else { return }
        Task { [self] in
            do {
                let loop = try loopForNewConnection(id: id, caller: caller)
                let session = try await PostgresSession.connect(id: id, configuration: configuration, loop: loop)
                state.withLock { $0.checkedOut += 1 }
                release(session)
            } catch {
                state.withLock { s in s.open -= 1; s.connectFailures += 1 }
                metrics.connectFailures.increment()
                logger.warning("cannot open a PostgreSQL connection", metadata: ["db.pool": "\(name)", "error": "\(error)"])
            }
        }
    }

    func isExpired(_ session: PostgresSession, now: ContinuousClock.Instant) -> Bool {
        now - session.createdAt >= configuration.maxLifetime || session.mustDiscard
    }
}
