import NimbusEventLoop
import Synchronization

extension PostgresPool {
    /// Queries from tasks running on one of `loops` (e.g. a server's handler loops, tasks made
    /// with `Task(executorPreference: loop)`) use connections that live on that same loop: the
    /// statement is sent, its result collected and the task resumed without a thread change.
    /// Adds to the loops given at `init`; connections already open stay on their loops.
    public func useEventLoops(_ loops: [EventLoop]) {
        callerLoops.withLock { known in
            for loop in loops where !known.contains(where: { $0 === loop }) { known.append(loop) }
        }
    }

    /// The pool's loop the calling code runs on, if any.
    func currentLoop() -> EventLoop? {
        callerLoops.withLock { loops in
            for loop in loops where loop.inEventLoop { return loop }
            return nil
        }
    }

    /// Where a connection opened for `caller` lives: the caller's loop, else one of the pool's
    /// loops (background connections spread over them), else the process's fallback loop.
    func loopForNewConnection(id: Int, caller: EventLoop?) throws -> EventLoop {
        if let caller { return caller }
        let spread = callerLoops.withLock { loops -> EventLoop? in loops.isEmpty ? nil : loops[id % loops.count] }
        if let spread { return spread }
        return try PostgresFallbackLoops.group.get().next()
    }
}

/// Loops for connections whose callers run on none of the pool's loops (plain tasks, tests,
/// command-line tools): one thread for the whole process, started on first use. A query from
/// such a caller hops to it and back, as it would to any worker.
enum PostgresFallbackLoops {
    static let group: Result<EventLoopGroup, any Error> = Result { try EventLoopGroup(threads: 1, name: "nimbus-pg") }
}
