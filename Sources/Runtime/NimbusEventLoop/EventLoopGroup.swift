import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// N event loops, each on its own thread (one per core is the usual choice).
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let threads: Mutex<[pthread_t]>
    private let counter = Atomic<Int>(0)

    public init(threads count: Int, name: String = "nimbus-loop") throws {
        precondition(count >= 1, "an EventLoopGroup needs at least one thread")
        var loops: [EventLoop] = []
        for index in 0..<count { loops.append(try EventLoop(name: "\(name)-\(index)")) }
        self.loops = loops
        var started: [pthread_t] = []
        for loop in loops {
            var thread = pthread_t()
            let argument = Unmanaged.passRetained(loop).toOpaque()
            let rc = pthread_create(&thread, nil, eventLoopThreadMain, argument)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            started.append(thread)
        }
        self.threads = Mutex(started)
        // Wait until every loop knows its thread, so `inEventLoop` answers correctly at once.
        for loop in loops { while !loop.isRunning { sched_yield() } }
    }

    /// Round-robin choice of a loop.
    public func next() -> EventLoop {
        loops[counter.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Stops every loop and joins its thread. Never call it from a loop thread.
    public func shutdown() {
        for loop in loops { loop.stop() }
        let threads = self.threads.withLock { t -> [pthread_t] in defer { t = [] }; return t }
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// pthread entry; a global func (a closure literal here would be actor-inferred and trap).
private func eventLoopThreadMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue()
    loop.run()
    return nil
}
