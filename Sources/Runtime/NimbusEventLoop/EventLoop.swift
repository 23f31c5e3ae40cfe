import CNimbusShims
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Readiness a registered file descriptor asks for.
public struct IOEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = IOEvents(rawValue: EPOLLIN.rawValue)
    public static let writable = IOEvents(rawValue: EPOLLOUT.rawValue)
}

/// Receives readiness for one registered fd, always on its loop's thread.
public protocol EventLoopIOHandler: AnyObject {
    /// `hangup` reports EPOLLERR/EPOLLHUP; reading then reports the cause.
    func handleIO(readable: Bool, writable: Bool, hangup: Bool)
}

/// Something that batches output during a loop tick and writes it once at the tick's end
/// (write coalescing: many responses, one `write`).
public protocol EventLoopFlushable: AnyObject {
    func flushAtTickEnd()
}

/// A handle for a timer, to cancel it.
public struct EventLoopTimer: Sendable, Hashable {
    let id: UInt64
}

/// One epoll loop on one thread. Everything registered with it (fds, timers, flushables) is
/// touched only from that thread; `execute` and the `TaskExecutor` conformance are the ways in
/// from elsewhere (an eventfd wakes the loop). Swift tasks created with
/// `Task(executorPreference: loop)` run their jobs here, so a handler never changes thread.
public final class EventLoop: @unchecked Sendable {
    public let name: String
    private let epfd: Int32
    private let wakeFD: Int32
    private let thread = Atomic<UInt>(0)
    private let stopping = Atomic<Bool>(false)

    // Only @Sendable closures and jobs enter the inbox; loop-local closures stay in `local`.
    private enum Work: @unchecked Sendable {
        case closure(() -> Void)
        case job(UnownedJob)
    }

    /// Work handed in from other threads.
    private let inbox = Mutex<[Work]>([])
    // ── loop-confined state ──
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    @exclusivity(unchecked) private var local: [Work] = []
    @exclusivity(unchecked) private var spare: [Work] = []
    @exclusivity(unchecked) private var handlers: [Int32: any EventLoopIOHandler] = [:]
    @exclusivity(unchecked) private var timers = TimerQueue()
    @exclusivity(unchecked) private var flushables: [any EventLoopFlushable] = []
    @exclusivity(unchecked) private var flushBatch: [any EventLoopFlushable] = []
    @exclusivity(unchecked) private var events = [epoll_event](repeating: epoll_event(), count: 256)
    /// This tick's ready events, and the one being handled (`readyCount` once all are).
    @exclusivity(unchecked) private var readyCount = 0
    @exclusivity(unchecked) private var handlingIndex = 0
    /// When the current tick's I/O became visible (read once per tick, after `epoll_wait`).
    @exclusivity(unchecked) private var currentTickStart = ContinuousClock.now
    @exclusivity(unchecked) private var currentTickStartNanoseconds = MonotonicTime.now()
    /// Per-loop state of components shared by every loop (see `attachment(_:make:)`).
    @exclusivity(unchecked) private var attachments: [(key: ObjectIdentifier, value: AnyObject)] = []

    /// Loop-thread only: when this tick's readiness was reported, i.e. the earliest moment
    /// anything read in this tick could be seen. One clock read per tick instead of one per
    /// request for arrival timestamps (deadlines, handling time).
    public var tickStart: ContinuousClock.Instant {
        precondition(inEventLoop, "tickStart read off \(name)")
        return currentTickStart
    }

    /// `tickStart` as CLOCK_MONOTONIC nanoseconds (`MonotonicTime`), for durations measured
    /// in integers.
    package var tickStartNanoseconds: UInt64 {
        precondition(inEventLoop, "tickStartNanoseconds read off \(name)")
        return currentTickStartNanoseconds
    }

    public init(name: String = "nimbus-loop") throws {
        self.name = name
        epfd = try SystemCall.must("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        do {
            wakeFD = try SystemCall.must("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
        } catch {
            SystemCall.close(epfd)
            throw error
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        _ = try SystemCall.must("epoll_ctl") { epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event) }
    }

    deinit {
        SystemCall.close(wakeFD)
        SystemCall.close(epfd)
    }

    /// True once `run()` has started on some thread.
    public var isRunning: Bool { thread.load(ordering: .relaxed) != 0 }

    /// True on this loop's thread.
    public var inEventLoop: Bool {
        thread.load(ordering: .relaxed) == UInt(pthread_self())
    }

    // MARK: work from anywhere

    /// Runs `work` on the loop thread soon (after the current callback when called from it).
    public func execute(_ work: @escaping @Sendable () -> Void) {
        enqueue(.closure(work))
    }

    /// Runs `work` on the loop thread and returns its result to the caller (a hop and back).
    public func submit<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if inEventLoop { return try work() }
        return try await withCheckedThrowingContinuation { continuation in
            execute { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Loop-thread only: queue a non-Sendable closure for this tick's work drain.
    public func executeInLoop(_ work: @escaping () -> Void) {
        precondition(inEventLoop, "executeInLoop called off \(name)")
        local.append(.closure(work))
    }

    private func enqueue(_ work: Work) {
        if inEventLoop {
            local.append(work)
            return
        }
        let wasEmpty = inbox.withLock { inbox -> Bool in
            inbox.append(work)
            return inbox.count == 1
        }
        if wasEmpty { wake() }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { try? SystemCall.write(wakeFD, $0) }
    }

    func enqueueJob(_ job: UnownedJob) { enqueue(.job(job)) }

    /// Loop-thread only: the object kept under `key` on this loop, made on first use. For the
    /// per-loop state of something shared by all loops (a server keys its own by identity); it
    /// lives as long as the loop. A short list searched in order: a loop has a handful.
    public func attachment<T: AnyObject>(_ key: ObjectIdentifier, make: () -> T) -> T {
        precondition(inEventLoop, "attachment read off \(name)")
        for entry in attachments where entry.key == key { return unsafeDowncast(entry.value, to: T.self) }
        let made = make()
        attachments.append((key, made))
        return made
    }

    // MARK: file descriptors (loop thread only)

    public func register(_ fd: Int32, events: IOEvents, handler: any EventLoopIOHandler) throws {
        precondition(inEventLoop, "register called off \(name)")
        var event = epoll_event()
        event.events = events.rawValue | EPOLLRDHUP.rawValue
        event.data.fd = fd
        _ = try SystemCall.must("epoll_ctl(ADD)") { epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) }
        handlers[fd] = handler
    }

    public func modify(_ fd: Int32, events: IOEvents) throws {
        precondition(inEventLoop, "modify called off \(name)")
        var event = epoll_event()
        // Without `.readable` (reads paused for backpressure) a half-close must not wake the
        // loop over and over (level-triggered): it is seen once reads resume.
        event.events = events.rawValue | (events.contains(.readable) ? EPOLLRDHUP.rawValue : 0)
        event.data.fd = fd
        _ = try SystemCall.must("epoll_ctl(MOD)") { epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) }
    }

    /// Stops watching `fd` (call before closing it).
    public func deregister(_ fd: Int32) {
        precondition(inEventLoop, "deregister called off \(name)")
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
        handlers[fd] = nil
    }

    // MARK: timers (loop thread only; `schedule` hops from anywhere)

    @discardableResult
    public func scheduleTimer(after delay: Duration, _ body: @escaping () -> Void) -> EventLoopTimer {
        precondition(inEventLoop, "scheduleTimer called off \(name)")
        return timers.schedule(at: MonotonicTime.now() &+ delay.nanoseconds, body)
    }

    public func cancelTimer(_ timer: EventLoopTimer) {
        precondition(inEventLoop, "cancelTimer called off \(name)")
        timers.cancel(timer)
    }

    /// Runs `body` on the loop after `delay`, from any thread.
    public func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        execute { [self] in _ = scheduleTimer(after: delay, body) }
    }

    // MARK: flush at tick end

    /// The object's `flushAtTickEnd` runs once at the end of this tick; the caller dedupes.
    /// Loop thread only: whether this tick's `epoll_wait` reported `fd` and its handler has not
    /// run yet. False means the descriptor had nothing to report when the tick began or was
    /// handled already — a cheaper "anything pending?" than a system call.
    public func hasUnhandledEvent(for fd: Int32) -> Bool {
        precondition(inEventLoop, "hasUnhandledEvent called off \(name)")
        var index = handlingIndex + 1
        while index < readyCount {
            if events[index].data.fd == fd { return true }
            index += 1
        }
        return false
    }

    public func flushAtTickEnd(_ flushable: any EventLoopFlushable) {
        flushables.append(flushable)
    }

    // MARK: running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        thread.store(UInt(pthread_self()), ordering: .relaxed)
        while !stopping.load(ordering: .relaxed) {
            tick()
        }
        // Leave nothing half-done: run what is queued, flush once more.
        drainWork()
        flushAll()
        // Per-loop state of shared components usually points back at the loop (a runner):
        // dropping it here lets a stopped loop and its descriptors go.
        attachments.removeAll()
    }

    /// Asks the loop to return from `run()`; from any thread.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake()
    }

    private func tick() {
        let hasWork = !local.isEmpty || !flushables.isEmpty
        var timeout: Int32 = -1
        if hasWork {
            timeout = 0
        } else if let next = timers.nextDeadline {
            let now = MonotonicTime.now()
            timeout = next <= now ? 0 : Int32(clamping: (next - now + 999_999) / 1_000_000)
        }
        let count = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeout) }
        if count < 0 && Glibc.errno != EINTR {
            fatalError("epoll_wait on \(name): \(SocketError(call: "epoll_wait", errno: Glibc.errno))")
        }
        currentTickStart = ContinuousClock.now
        currentTickStartNanoseconds = MonotonicTime.now()
        readyCount = max(Int(count), 0)
        for i in 0..<readyCount {
            handlingIndex = i
            let event = events[i]
            let fd = event.data.fd
            if fd == wakeFD {
                var value: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &value) { try? SystemCall.read(wakeFD, $0) }
                continue
            }
            guard let handler = handlers[fd] else { continue }
            let bits = event.events
            let hangup = bits & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
            handler.handleIO(
                readable: bits & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || hangup,
                writable: bits & EPOLLOUT.rawValue != 0,
                hangup: hangup)
        }
        handlingIndex = readyCount
        if !timers.isEmpty {
            let now = MonotonicTime.now()
            while let body = timers.popDue(now: now) { body() }
        }
        drainWork()
        flushAll()
    }

    private func drainWork() {
        // Bounded rounds so a task that keeps re-enqueueing cannot starve I/O.
        for _ in 0..<16 {
            let fromInbox = inbox.withLock { inbox -> [Work] in
                if inbox.isEmpty { return [] }
                defer { inbox.removeAll(keepingCapacity: true) }
                return inbox
            }
            if local.isEmpty && fromInbox.isEmpty { return }
            swap(&local, &spare)
            for work in fromInbox { run(work) }
            for work in spare { run(work) }
            spare.removeAll(keepingCapacity: true)
        }
    }

    @inline(__always)
    private func run(_ work: Work) {
        switch work {
        case .closure(let body): body()
        case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func flushAll() {
        // Two buffers swapped: no array allocated per tick (a copy-then-removeAll would
        // reallocate the shared buffer every time).
        while !flushables.isEmpty {
            swap(&flushables, &flushBatch)
            for flushable in flushBatch { flushable.flushAtTickEnd() }
            flushBatch.removeAll(keepingCapacity: true)
        }
    }
}

extension EventLoop: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueueJob(UnownedJob(job))
    }
}

extension Duration {
    package var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
package enum MonotonicTime {
    package static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
