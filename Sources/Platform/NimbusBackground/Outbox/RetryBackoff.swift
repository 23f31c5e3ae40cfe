/// How long a failed delivery waits before its next attempt: `initial`, doubling per failed
/// attempt, capped at `maximum`. Pure, so the schedule is testable without a clock.
public struct RetryBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(60)) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait after the `attempts`-th failed attempt (1 for the first failure).
    public func delay(afterAttempts attempts: Int) -> Duration {
        var delay = initial
        var n = 1
        while n < attempts && delay < maximum {
            delay *= 2
            n += 1
        }
        return min(delay, maximum)
    }
}
