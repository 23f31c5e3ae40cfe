import Synchronization

/// Request ids and W3C trace context for one request through the gateway.
public struct RequestIdentity: Sendable, Equatable {
    /// `x-request-id`: the client's if it sent a sane one, else generated. Echoed and logged.
    public var requestID: String
    /// The `traceparent` header to send upstream: same trace, the gateway's span as parent
    /// (`00-<trace id>-<span id>-<flags>`), built once as one String.
    public let traceparent: String

    /// 32 lowercase hex digits.
    public var traceID: String { field(3, 32) }
    /// The span id the gateway uses for its upstream call (16 hex digits).
    public var spanID: String { field(36, 16) }
    public var traceFlags: String { field(53, 2) }

    private func field(_ offset: Int, _ length: Int) -> String {
        let utf8 = traceparent.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: offset)
        return String(Substring(utf8[start..<utf8.index(start, offsetBy: length)]))
    }

    public init(requestID: String?, traceparent: String?) {
        if let requestID, Self.isAcceptableRequestID(requestID) {
            self.requestID = requestID
        } else {
            self.requestID = Self.randomHex(bytes: 16)
        }
        let parsed = traceparent.flatMap { Self.parseTraceparent($0) }
        // "00-" trace(32) "-" span(16) "-" flags(2): 55 bytes, written in place.
        self.traceparent = String(unsafeUninitializedCapacity: 55) { buffer in
            buffer[0] = UInt8(ascii: "0"); buffer[1] = UInt8(ascii: "0"); buffer[2] = UInt8(ascii: "-")
            if let parsed {
                _ = UnsafeMutableBufferPointer(rebasing: buffer[3..<35]).initialize(fromContentsOf: parsed.traceID.utf8)
            } else {
                Self.writeRandomHex(bytes: 16, into: UnsafeMutableBufferPointer(rebasing: buffer[3..<35]))
            }
            buffer[35] = UInt8(ascii: "-")
            Self.writeRandomHex(bytes: 8, into: UnsafeMutableBufferPointer(rebasing: buffer[36..<52]))
            buffer[52] = UInt8(ascii: "-")
            if let parsed {
                _ = UnsafeMutableBufferPointer(rebasing: buffer[53..<55]).initialize(fromContentsOf: parsed.flags.utf8)
            } else {
                buffer[53] = UInt8(ascii: "0"); buffer[54] = UInt8(ascii: "1")
            }
            return 55
        }
    }

    /// Printable ASCII without spaces, at most 128 characters: safe to echo and to log.
    static func isAcceptableRequestID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// `version-traceid-parentid-flags` (W3C Trace Context); nil when malformed or all-zero.
    static func parseTraceparent(_ header: String) -> (traceID: String, parentID: String, flags: String)? {
        let parts = Substring(header).trimmingSpaceBytes().split(separator: "-", omittingEmptySubsequences: false)
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
            writeRandomHex(bytes: bytes, into: buffer)
            return bytes * 2
        }
    }

    /// `bytes * 2` random lowercase hex digits into `buffer` (which holds at least that many).
    static func writeRandomHex(bytes: Int, into buffer: UnsafeMutableBufferPointer<UInt8>) {
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

private extension Substring {
    /// Without leading and trailing spaces, byte-wise (it runs on every request's traceparent).
    func trimmingSpaceBytes() -> Substring {
        let bytes = utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == 0x20 { start = bytes.index(after: start) }
        while start < end, bytes[bytes.index(before: end)] == 0x20 { end = bytes.index(before: end) }
        return self[start..<end]
    }
}

extension RequestIdentity {
    /// The `x-request-id` to answer a request with: its own when sane, else a new one.
    public static func requestID(answering request: HTTPRequest) -> String {
        if let id = request.headers["x-request-id"], isAcceptableRequestID(id) { return id }
        return randomHex(bytes: 16)
    }

    /// A new request id, for answers to requests that never became one (malformed input).
    public static func newRequestID() -> String { randomHex(bytes: 16) }
}
