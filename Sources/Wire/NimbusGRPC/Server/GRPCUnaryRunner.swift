import NimbusEventLoop

/// Runs the unary handlers of one event loop in a few long-lived tasks instead of a task per
/// call. Creating, starting and destroying a task (with its executor preference, a separate
/// allocation and a status-record lock) was a fifth of a trivial call's CPU; here a call is
/// queued, and a worker task — woken once per batch, not per call — awaits the handlers one
/// after another isolated to the loop (an `EventLoopActor`), so a request never changes thread.
///
/// A handler that suspends (a query, an outgoing call) keeps its worker; calls queued behind it
/// are not stuck: at the end of every tick in which calls wait and no worker is on its way,
/// another worker is woken (or made). Cancelling a call cancels the task of the worker running
/// it, which is then retired after that call — cancellation is sticky — and never reused.
///
/// Loop-confined: every method runs on `loop`'s thread (workers are isolated to it).
final class GRPCUnaryRunner: EventLoopFlushable, @unchecked Sendable {
    let loop: EventLoop
    /// What workers are isolated to: the loop's thread, with no task executor preference.
    let actor: EventLoopActor
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    /// Calls waiting for a worker, taken from `head` on.
    @exclusivity(unchecked) private var queue: [GRPCServerCall] = []
    @exclusivity(unchecked) private var head = 0
    /// Workers waiting for calls.
    @exclusivity(unchecked) private var parked: [Worker] = []
    /// Workers woken (or made) whose job has not started yet: they will drain the queue.
    @exclusivity(unchecked) private var scheduled = 0
    @exclusivity(unchecked) private var watching = false
    /// More parked workers than this retire: they are only needed while handlers suspend.
    private static let maxParked = 8

    init(loop: EventLoop) {
        self.loop = loop
        self.actor = EventLoopActor(loop: loop)
    }

    /// The runner of `loop` for the server identified by `key`.
    static func on(_ loop: EventLoop, key: ObjectIdentifier) -> GRPCUnaryRunner {
        loop.attachment(key) { GRPCUnaryRunner(loop: loop) }
    }

    /// Queues `call`; a worker runs it later in this tick (before the tick's output is written).
    func submit(_ call: GRPCServerCall) {
        queue.append(call)
        watch()
        if scheduled == 0 { wakeWorker() }
    }

    /// Tick end: calls still wait (the worker that took the batch is suspended in a handler)
    /// and nobody is coming for them.
    func flushAtTickEnd() {
        watching = false
        if head < queue.count && scheduled == 0 { wakeWorker() }
    }

    private func watch() {
        guard !watching else { return }
        watching = true
        loop.flushAtTickEnd(self)
    }

    private func wakeWorker() {
        scheduled += 1
        if let worker = parked.popLast() {
            worker.wake()
        } else {
            let worker = Worker(runner: self)
            let actor = self.actor
            worker.task = Task { await worker.run(on: actor) }
        }
    }

    private func next() -> GRPCServerCall? {
        guard head < queue.count else { return nil }
        let call = queue[head]
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else {
            watch()  // this call may suspend its worker: the rest must not wait for it
        }
        return call
    }

    /// @unchecked Sendable: loop-confined like the runner (its task is isolated to the loop).
    final class Worker: @unchecked Sendable {
        let runner: GRPCUnaryRunner
        @exclusivity(unchecked) var task: Task<Void, Never>?
        /// The call being run (possibly suspended in its handler).
        @exclusivity(unchecked) private(set) var current: GRPCServerCall?
        @exclusivity(unchecked) private var waiter: UnsafeContinuation<Void, Never>?

        init(runner: GRPCUnaryRunner) { self.runner = runner }

        func wake() {
            let waiter = self.waiter
            self.waiter = nil
            waiter?.resume()
        }

        /// Cancels the call being run; the worker retires after it.
        func cancel(_ call: GRPCServerCall) {
            if current === call { task?.cancel() }
        }

        func run(on actor: isolated EventLoopActor) async {
            while true {
                runner.scheduled -= 1
                while let call = runner.next() {
                    current = call
                    await call.runUnary(on: self)
                    current = nil
                    if Task.isCancelled {
                        task = nil
                        return
                    }
                }
                if runner.parked.count >= GRPCUnaryRunner.maxParked {
                    task = nil
                    return
                }
                await withUnsafeContinuation { continuation in
                    waiter = continuation
                    runner.parked.append(self)
                }
            }
        }
    }
}
