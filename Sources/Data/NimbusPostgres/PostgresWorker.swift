import Dispatch
import Foundation
import Synchronization

/// A dedicated OS thread that runs blocking libpq calls for one connection, so the callers'
/// threads (event loops, the cooperative pool) never block: they suspend on a continuation.
final class PostgresWorker: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let signal = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = 512 * 1024
        thread.start()
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        signal.signal()
    }

    /// Runs the queued jobs, then ends the thread.
    func stop() {
        stopped.withLock { $0 = true }
        signal.signal()
    }

    private func loop() {
        while true {
            signal.wait()
            let batch = jobs.withLock { queue -> [@Sendable () -> Void] in
                let taken = queue; queue.removeAll(keepingCapacity: true); return taken
            }
            // Extra signals for jobs already taken are harmless: the next wait finds an empty queue.
            for job in batch { job() }
            if batch.isEmpty, stopped.withLock({ $0 }) { return }
        }
    }
}
