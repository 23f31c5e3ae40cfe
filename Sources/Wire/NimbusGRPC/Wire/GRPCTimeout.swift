/// The `grpc-timeout` header: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n), so 2 to 9
/// characters in all.
public enum GRPCTimeout {
    /// Parses a header value; nil when it is malformed.
    public static func parse<S: StringProtocol>(_ value: S) -> Duration? {
        let utf8 = value.utf8
        guard utf8.count >= 2 && utf8.count <= 9 else { return nil }
        var amount: Int64 = 0
        var index = utf8.startIndex
        for _ in 0..<(utf8.count - 1) {
            let c = utf8[index]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(c - UInt8(ascii: "0"))
            index = utf8.index(after: index)
        }
        switch utf8[index] {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// Formats a duration in the finest unit whose amount fits in 8 digits (rounding up so a
    /// deadline never grows shorter on the wire). Non-positive durations become `0n`... but
    /// callers should not send a call whose deadline already passed.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return "0n" }
        let totalNanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        let units: [(Character, Double)] = [("n", 1), ("u", 1e3), ("m", 1e6), ("S", 1e9), ("M", 60e9), ("H", 3600e9)]
        for (unit, scale) in units {
            let amount = (totalNanos / scale).rounded(.up)
            if amount <= 99_999_999 { return "\(Int64(amount))\(unit)" }
        }
        return "99999999H"
    }
}
