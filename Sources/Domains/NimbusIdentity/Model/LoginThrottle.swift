import Foundation
import Synchronization

/// Failed-login throttling per account: after `maxFailures` failures within `window`, further
/// attempts are refused until the window passes. Memory is bounded: at most `capacity`
/// accounts are tracked; the oldest entry makes room for a new one. (Under a spray of more
/// than `capacity` distinct emails the oldest counters are forgotten; scrypt's cost per
/// attempt still bounds the guessing rate.)
final class LoginThrottle: Sendable {
    struct Entry {
        var failures: Int
        var windowStart: Date
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Insertion order for eviction; may hold keys already removed (skipped when evicting).
        var order: [String] = []
        var orderHead = 0
    }

    let maxFailures: Int
    let window: TimeInterval
    let capacity: Int
    private let state = Mutex(State())

    init(maxFailures: Int = 5, window: TimeInterval = 900, capacity: Int = 10_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.capacity = capacity
    }

    /// Seconds to wait when `account` is locked out, or nil when it may try.
    func retryAfter(_ account: String, now: Date = Date()) -> TimeInterval? {
        state.withLock { state in
            guard let entry = state.entries[account] else { return nil }
            let elapsed = now.timeIntervalSince(entry.windowStart)
            if elapsed >= window {
                state.entries[account] = nil
                return nil
            }
            return entry.failures >= maxFailures ? window - elapsed : nil
        }
    }

    func recordFailure(_ account: String, now: Date = Date()) {
        state.withLock { state in
            if var entry = state.entries[account], now.timeIntervalSince(entry.windowStart) < window {
                entry.failures += 1
                state.entries[account] = entry
                return
            }
            if state.entries[account] == nil {
                while state.entries.count >= capacity, state.orderHead < state.order.count {
                    let oldest = state.order[state.orderHead]
                    state.orderHead += 1
                    state.entries[oldest] = nil
                }
                state.order.append(account)
                // Keys of entries removed by success or expiry stay in `order`; rebuild it from
                // the live entries before it outgrows them, so memory stays bounded.
                if state.order.count - state.orderHead > 2 * capacity || state.orderHead > capacity {
                    state.order = state.entries.sorted { $0.value.windowStart < $1.value.windowStart }.map(\.key) + [account]
                    state.orderHead = 0
                }
            }
            state.entries[account] = Entry(failures: 1, windowStart: now)
        }
    }

    func recordSuccess(_ account: String) {
        _ = state.withLock { $0.entries.removeValue(forKey: account) }
    }

    var trackedCount: Int { state.withLock { $0.entries.count } }
    var bookkeepingCount: Int { state.withLock { $0.order.count - $0.orderHead } }
}
