import Synchronization

/// A level-triggered wake-up: `signal()` from anywhere (say, after committing new work),
/// `wait(upTo:)` in the worker. A signal while nobody waits is kept for the next wait.
public final class WorkSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after a signal or `timeout`, whichever comes first.
    public func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        state.waiter?.resume()
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            // Wake the continuation if the timer won, so the group can finish.
            self.state.withLock { state in
                let waiter = state.waiter
                state.waiter = nil
                return waiter
            }?.resume()
            group.cancelAll()
        }
    }
}
