/// Exponential backoff with jitter for reconnect attempts: the n-th wait is
/// `min(initial × multiplier^n, maximum)`, spread by ±`jitter` so replicas that lost the same
/// peer do not reconnect in lockstep.
public struct ClientBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// Fraction of the wait it may move either way (0.2 = ±20 %).
    public var jitter: Double

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10), multiplier: Double = 1.6, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The wait before attempt number `attempt + 1` (attempt 0 = after the first failure).
    /// `unitRandom` is a value in 0..<1 (injected so tests are exact).
    public func delay(afterFailures attempt: Int, unitRandom: Double) -> Duration {
        let base = initial.clientSeconds * pow(multiplier, Double(max(0, attempt)))
        let capped = min(base, maximum.clientSeconds)
        let spread = capped * jitter * (unitRandom * 2 - 1)
        return .nanoseconds(Int64(max(0, capped + spread) * 1e9))
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var n = Int(exponent)
        while n > 0 && result < 1e12 { result *= base; n -= 1 }
        return result
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var clientSeconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
