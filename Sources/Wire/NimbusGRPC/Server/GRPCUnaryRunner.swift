import NimbusEventLoop

/// Runs the unary handlers of one event loop in worker tasks that each take a batch of calls,
/// instead of a task per call. Creating, starting and destroying a task was a fifth of a
/// trivial call's CPU; here a call is queued, and one worker task per batch (per tick, under
/// load dozens of calls) awaits the handlers one after another with the loop as its preferred
/// executor, so a request never changes thread.
///
/// A handler that suspends (a query, an outgoing call) keeps its worker; calls queued behind it
/// are not stuck: a worker that takes a call while others wait first makes sure another worker
/// is on its way. Cancelling a call cancels the task of the worker running it, which
/// stops taking calls after that one (cancellation is sticky).
///
/// Loop-confined: every method runs on `loop`'s thread (the workers' preferred executor).
final class GRPCUnaryRunner: @unchecked Sendable {
    let loop: EventLoop
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    /// Calls waiting for a worker, taken from `head` on.
    @exclusivity(unchecked) private var queue: [GRPCServerCall] = []
    @exclusivity(unchecked) private var head = 0
    /// Workers started whose task has not begun taking calls: they will drain the queue.
    @exclusivity(unchecked) private var scheduled = 0

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Queues `call`; a worker runs it later in this tick (before the tick's output is written).
    func submit(_ call: GRPCServerCall) {
        queue.append(call)
        if scheduled == 0 { startWorker() }
    }

    /// Calls wait and no worker is on its way (the ones running may be suspended in handlers).
    private func ensureWorker() {
        if head < queue.count && scheduled == 0 { startWorker() }
    }

    private func startWorker() {
        scheduled += 1
        let worker = Worker()
        // The loop as the task's preferred executor: the handlers and everything they await run
        // on the loop's thread — continuations resume there directly, and code not isolated to
        // its caller (`@Sendable` async closures) runs there too. (Isolating workers to an actor
        // on the loop instead avoided a runtime lock per executor check, but resumed every
        // continuation on the global pool first: a gateway's or a database service's handlers
        // then ran there, at twice the CPU per call.)
        worker.task = Task(executorPreference: loop) {
            await self.drain(worker)
        }
    }

    private func drain(_ worker: Worker) async {
        scheduled -= 1
        while head < queue.count {
            let call = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            guard let (handler, request) = call.takeUnaryWork(for: worker) else { continue }
            // If this handler suspends, the calls behind it need another worker now (one per
            // tick would serialize handlers that all suspend, as a gateway's or a database
            // service's do). When it does not, the extra worker finds the queue empty: one
            // short task per batch.
            ensureWorker()
            worker.current = ObjectIdentifier(call)
            let result: Result<[UInt8], any Error>
            do {
                result = .success(try await handler(request, call.context))
            } catch {
                result = .failure(error)
            }
            worker.current = nil
            call.completeUnary(fromWorker: result)
            if worker.cancelled { break }
        }
        // Retiring (queue empty, or cancelled) leaves nothing stranded: whenever a call waits,
        // a worker has been started for it (by `submit`, or by the worker that took the call
        // ahead of it).
        worker.task = nil
    }

    /// @unchecked Sendable: loop-confined like the runner (its task prefers the loop).
    final class Worker: @unchecked Sendable {
        @exclusivity(unchecked) var task: Task<Void, Never>?
        /// The call being run (possibly suspended in its handler), by identity: `drain` holds it.
        @exclusivity(unchecked) var current: ObjectIdentifier?

        /// Its task was cancelled (for `current`): it takes no further calls.
        @exclusivity(unchecked) private(set) var cancelled = false

        /// Cancels the call being run; the worker takes no further calls.
        func cancel(_ call: GRPCServerCall) {
            guard current == ObjectIdentifier(call) else { return }
            cancelled = true
            task?.cancel()
        }
    }
}
