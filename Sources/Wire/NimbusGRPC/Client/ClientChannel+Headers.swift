import NimbusHTTP
import NimbusRPCCore
import Synchronization

/// The request header fields every call of one method to one endpoint shares, built once per
/// channel: a call then only writes its `grpc-timeout` and metadata.
final class ClientHeaderPrefixCache: Sendable {
    struct Key: Hashable {
        var method: MethodDescriptor
        var endpoint: Int
    }

    /// Methods beyond this many are built per call (a caller inventing paths cannot grow it).
    static let limit = 1024
    private let prefixes = Mutex<[Key: HTTP2ClientHeaderPrefix]>([:])

    func prefix(_ key: Key, build: () -> HTTP2ClientHeaderPrefix) -> HTTP2ClientHeaderPrefix {
        if let cached = prefixes.withLock({ $0[key] }) { return cached }
        let built = build()
        prefixes.withLock { prefixes in
            if prefixes.count < Self.limit { prefixes[key] = built }
        }
        return built
    }
}

extension GRPCChannel {
    func headerPrefix(_ method: MethodDescriptor, endpoint: Int) -> HTTP2ClientHeaderPrefix {
        headerPrefixes.prefix(.init(method: method, endpoint: endpoint)) {
            HTTP2ClientHeaderPrefix([
                (":method", "POST"),
                (":scheme", scheme),
                (":path", method.path),
                (":authority", authorities[endpoint]),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("user-agent", configuration.userAgent),
                // Responses may come compressed (a grpcio server configured to); they inflate.
                ("grpc-accept-encoding", GRPCMessageEncoding.acceptHeader),
            ])
        }
    }

    /// The call's header block: the shared prefix, `grpc-timeout`, then the metadata (`-bin`
    /// values base64-encoded in place, reserved names skipped). Metadata HTTP/2 cannot carry
    /// is refused here, before anything is sent (see `validate`).
    func requestHeaders(_ method: MethodDescriptor, options: CallOptions, endpoint: Int,
                        deadline: ContinuousClock.Instant?) throws -> HTTP2ClientRequestHeaders {
        var capacity = 16
        for (key, value) in options.metadata {
            switch value {
            case .string(let text): capacity += key.utf8.count + text.utf8.count * 4 / 3 + 10
            case .binary(let bytes): capacity += key.utf8.count + bytes.count * 4 / 3 + 10
            }
        }
        var headers = HTTP2ClientRequestHeaders(prefix: headerPrefix(method, endpoint: endpoint), capacity: capacity)
        if let deadline {
            var digits = ClientTimeoutDigits(max(deadline - .now, .nanoseconds(1)))
            headers.add("grpc-timeout", valueLength: digits.count) { digits.write(into: $0) }
        }
        for (key, value) in options.metadata {
            try Self.validateKey(key)
            if Metadata.isReserved(key) { continue }
            let binaryKey = Metadata.isBinaryKey(key)
            switch value {
            case .string(let text):
                if binaryKey {
                    let bytes = Array(text.utf8)
                    headers.add(key, valueLength: ClientBase64.encodedLength(bytes.count)) { ClientBase64.encode(bytes, into: $0) }
                } else {
                    guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e }) else {
                        throw RPCError(.internal, "metadata '\(key)' has a value that is not printable ASCII; send bytes in a '-bin' key")
                    }
                    headers.add(key, text)
                }
            case .binary(let bytes):
                headers.add(key, valueLength: ClientBase64.encodedLength(bytes.count)) { ClientBase64.encode(bytes, into: $0) }
            }
        }
        return headers
    }

    @inline(__always)
    static func validateKey(_ key: String) throws {
        guard !key.isEmpty, key.utf8.allSatisfy({ ClientWireFormat.isValidKeyByte($0) }) else {
            throw RPCError(.internal, "invalid metadata key '\(key)': use 0-9, a-z, '-', '_' and '.'")
        }
    }
}

/// `grpc-timeout` written as bytes (the `GRPCTimeout.format` rule: the finest unit whose amount
/// fits in 8 digits, rounded up) without building a String.
struct ClientTimeoutDigits {
    private var amount: UInt64
    private let unit: UInt8
    let count: Int

    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, seconds > 0 || attoseconds > 0 else {
            amount = 0; unit = UInt8(ascii: "n"); count = 2
            return
        }
        if seconds >= 3_600 * 99_999_999 {
            amount = 99_999_999; unit = UInt8(ascii: "H"); count = 9
            return
        }
        // Nanoseconds, rounded up; exact in UInt64 for any deadline under ~584 years.
        let nanos = UInt64(clamping: seconds) &* 1_000_000_000 &+ UInt64((attoseconds + 999_999_999) / 1_000_000_000)
        let units: [(UInt8, UInt64)] = ClientTimeoutDigits.units
        var chosen: (UInt64, UInt8) = (99_999_999, UInt8(ascii: "H"))
        for (unit, scale) in units {
            let value = (nanos + scale - 1) / scale
            if value <= 99_999_999 { chosen = (value, unit); break }
        }
        amount = chosen.0
        unit = chosen.1
        var digits = 1
        var rest = amount / 10
        while rest > 0 { digits += 1; rest /= 10 }
        count = digits + 1
    }

    private static let units: [(UInt8, UInt64)] = [
        (UInt8(ascii: "n"), 1), (UInt8(ascii: "u"), 1_000), (UInt8(ascii: "m"), 1_000_000),
        (UInt8(ascii: "S"), 1_000_000_000), (UInt8(ascii: "M"), 60_000_000_000), (UInt8(ascii: "H"), 3_600_000_000_000),
    ]

    mutating func write(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var value = amount
        var index = count - 2
        repeat {
            buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
            index -= 1
        } while index >= 0
        buffer[count - 1] = unit
        return count
    }
}

/// Unpadded base64 (as gRPC sends `-bin` values) straight into a header buffer.
enum ClientBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encodedLength(_ count: Int) -> Int { (count * 4 + 2) / 3 }

    static func encode(_ bytes: [UInt8], into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        alphabet.withUnsafeBufferPointer { alphabet in
            bytes.withUnsafeBufferPointer { bytes in
                var i = 0
                var o = 0
                while i + 3 <= bytes.count {
                    let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    out[o] = alphabet[Int(n >> 18 & 63)]; out[o + 1] = alphabet[Int(n >> 12 & 63)]
                    out[o + 2] = alphabet[Int(n >> 6 & 63)]; out[o + 3] = alphabet[Int(n & 63)]
                    i += 3
                    o += 4
                }
                switch bytes.count - i {
                case 1:
                    let n = UInt32(bytes[i]) << 16
                    out[o] = alphabet[Int(n >> 18 & 63)]; out[o + 1] = alphabet[Int(n >> 12 & 63)]
                    o += 2
                case 2:
                    let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
                    out[o] = alphabet[Int(n >> 18 & 63)]; out[o + 1] = alphabet[Int(n >> 12 & 63)]
                    out[o + 2] = alphabet[Int(n >> 6 & 63)]
                    o += 3
                default:
                    break
                }
                return o
            }
        }
    }
}
