import Synchronization

/// Request ids and W3C trace context for one request through the gateway.
public struct RequestIdentity: Sendable, Equatable {
    /// `x-request-id`: the client's if it sent a sane one, else generated. Echoed and logged.
    public var requestID: String
    /// 32 lowercase hex digits.
    public var traceID: String
    /// The span id the gateway uses for its upstream call (16 hex digits).
    public var spanID: String
    public var traceFlags: String

    /// The `traceparent` header to send upstream: same trace, the gateway's span as parent.
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(traceFlags)" }

    public init(requestID: String?, traceparent: String?) {
        if let requestID, Self.isAcceptableRequestID(requestID) {
            self.requestID = requestID
        } else {
            self.requestID = Self.randomHex(bytes: 16)
        }
        spanID = Self.randomHex(bytes: 8)
        if let traceparent, let parsed = Self.parseTraceparent(traceparent) {
            traceID = parsed.traceID
            traceFlags = parsed.flags
        } else {
            traceID = Self.randomHex(bytes: 16)
            traceFlags = "01"
        }
    }

    /// Printable ASCII without spaces, at most 128 characters: safe to echo and to log.
    static func isAcceptableRequestID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// `version-traceid-parentid-flags` (W3C Trace Context); nil when malformed or all-zero.
    static func parseTraceparent(_ header: String) -> (traceID: String, parentID: String, flags: String)? {
        let parts = header.trimmingSpaces().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", isLowerHex(parts[0]),
              parts[1].count == 32, isLowerHex(parts[1]), parts[1].contains(where: { $0 != "0" }),
              parts[2].count == 16, isLowerHex(parts[2]), parts[2].contains(where: { $0 != "0" }),
              parts[3].count == 2, isLowerHex(parts[3]) else { return nil }
        // Version 00 has exactly four fields; later versions may append more.
        if parts[0] == "00" && parts.count != 4 { return nil }
        return (String(parts[1]), String(parts[2]), String(parts[3]))
    }

    private static func isLowerHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func randomHex(bytes: Int) -> String {
        String(unsafeUninitializedCapacity: bytes * 2) { buffer in
            var index = 0
            while index < bytes * 2 {
                var word = IDGenerator.next()
                for _ in 0..<8 where index < bytes * 2 {
                    buffer[index] = hexDigits[Int(word & 0xF)]
                    buffer[index + 1] = hexDigits[Int((word >> 4) & 0xF)]
                    word >>= 8
                    index += 2
                }
            }
            return bytes * 2
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// Request, trace and span ids: unique and evenly spread, not secrets. SplitMix64 over an
/// atomic counter seeded from the system generator once — no system call per id (a
/// `SystemRandomNumberGenerator` draw is a `getrandom` call, several per request).
enum IDGenerator {
    private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    static func next() -> UInt64 {
        var z = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func trimmingSpaces() -> String {
        // The common case, nothing to trim, copies nothing.
        guard utf8.first == 0x20 || utf8.last == 0x20 else { return self }
        return Substring(self).trimmingSpaces()
    }
}
