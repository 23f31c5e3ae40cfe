import NimbusRPCCore

// gRPC wire details the client needs. Where the server side (wire-server branch) grows shared
// helpers for the same thing, these delegate to or get replaced by them.

/// Splits a byte stream of length-prefixed gRPC messages (1 flag byte + 4-byte big-endian length)
/// into messages, refusing one larger than `maxMessageSize` as soon as its prefix arrives —
/// before any of it is buffered.
struct ClientMessageDeframer {
    enum Failure: Error, Equatable {
        case tooLarge(length: Int, limit: Int)
        case compressed
    }

    let maxMessageSize: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Length of the message being assembled, once its prefix is known.
    private var expected: Int?

    init(maxMessageSize: Int) { self.maxMessageSize = maxMessageSize }

    /// Bytes received that do not yet form a whole message.
    var pendingBytes: Int { buffer.count - start }

    mutating func append(_ bytes: [UInt8]) throws(Failure) -> [[UInt8]] {
        if pendingBytes == 0 {
            buffer = bytes
            start = 0
        } else {
            buffer.append(contentsOf: bytes)
        }
        var messages: [[UInt8]] = []
        while true {
            if expected == nil {
                guard buffer.count - start >= 5 else { break }
                if buffer[start] & 1 != 0 { throw .compressed }
                let length = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16
                    | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
                if length > maxMessageSize { throw .tooLarge(length: length, limit: maxMessageSize) }
                expected = length
                start += 5
                if buffer.capacity < start + length { buffer.reserveCapacity(start + length) }
            }
            guard let length = expected, buffer.count - start >= length else { break }
            messages.append(Array(buffer[start..<start + length]))
            start += length
            expected = nil
        }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            start = 0
        } else if start > 1 << 16 {
            buffer.removeFirst(start)
            start = 0
        }
        return messages
    }
}

enum ClientWireFormat {
    /// One message with its 5-byte prefix (never compressed).
    static func frame(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(message.count + 5)
        let n = UInt32(message.count)
        out.append(0)
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(contentsOf: message)
        return out
    }

    /// `grpc-timeout`: at most 8 digits and the finest unit that fits.
    static func timeoutHeader(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanos = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        let units: [(Int64, String)] = [(1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"),
                                        (60_000_000_000, "M"), (3_600_000_000_000, "H")]
        for (scale, unit) in units {
            let value = (nanos + scale - 1) / scale   // round up: never promise less time than asked
            if value < 100_000_000 { return "\(max(value, 1))\(unit)" }
        }
        return "99999999H"
    }

    /// Percent-decodes `grpc-message` (invalid escapes are kept as they are).
    static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 for `-bin` metadata, unpadded as gRPC sends it.
    static func base64Encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded or unpadded base64 (standard or URL alphabet); nil when malformed.
    static func base64Decode(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        var accumulator: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            accumulator = accumulator << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }

    /// Header names a client must not send as custom metadata (the transport owns them).
    static func isReserved(_ name: String) -> Bool {
        name.hasPrefix(":") || name.hasPrefix("grpc-") || name == "content-type" || name == "te"
            || name == "user-agent" || name == "connection" || name == "host" || name == "transfer-encoding"
    }

    /// Custom metadata as header fields (`-bin` values base64-encoded).
    static func headers(from metadata: Metadata) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for (key, value) in metadata where !isReserved(key) {
            switch value {
            case .string(let s): out.append((key, s))
            case .binary(let b): out.append((key, base64Encode(b)))
            }
        }
        return out
    }

    /// Response header fields as metadata, leaving out pseudo-headers and reserved gRPC fields.
    static func metadata(from fields: [(name: String, value: String)]) -> Metadata {
        var metadata = Metadata()
        for (name, value) in fields where !isReserved(name) {
            if name.hasSuffix("-bin") {
                // A malformed -bin value is dropped rather than failing the whole call.
                if let bytes = base64Decode(value) { metadata.add(name, binary: bytes) }
            } else {
                metadata.add(name, value)
            }
        }
        return metadata
    }
}
