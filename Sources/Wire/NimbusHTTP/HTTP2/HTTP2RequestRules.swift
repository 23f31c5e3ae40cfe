/// The request rules of RFC 9113 §8 that nghttp2 enforces in its "HTTP messaging" mode, which
/// the server switches off (`nghttp2_option_set_no_http_messaging`): nghttp2 validated every
/// header of every request (~3.5 % of a small call), while here a field is classified once and
/// remembered with the connection's recent header fields (`HTTP2ServerSession`), so a client
/// repeating its headers pays a compare, not a validation.
///
/// A violation is a stream error: the session answers RST_STREAM(PROTOCOL_ERROR) and the
/// request never reaches the application.
enum HTTP2RequestRules {
    /// What a header field is, for the per-block checks.
    enum Kind: UInt8 {
        case method, connectMethod, scheme, authority, path, asteriskPath
        case regular
        case contentLength
        /// Refused wherever it appears.
        case invalid

        /// The pseudo-header's bit in a block's "seen" set (0 for regular fields).
        var pseudoBit: UInt8 {
            switch self {
            case .method, .connectMethod: 1
            case .scheme: 2
            case .authority: 4
            case .path, .asteriskPath: 8
            case .regular, .contentLength, .invalid: 0
            }
        }
    }

    /// Classifies one field of a request header block. `contentLength` is the parsed value for
    /// `.contentLength`.
    static func classify(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> (kind: Kind, contentLength: Int) {
        guard !name.isEmpty, isValidValue(value) else { return (.invalid, 0) }
        if name[0] == UInt8(ascii: ":") {
            switch String(decoding: name, as: UTF8.self) {
            case ":method":
                guard !value.isEmpty, value.allSatisfy(isTokenByte) else { return (.invalid, 0) }
                return (value.elementsEqual("CONNECT".utf8) ? .connectMethod : .method, 0)
            case ":scheme":
                guard let first = value.first, isAlpha(first),
                      value.dropFirst().allSatisfy({ isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
                else { return (.invalid, 0) }
                return (.scheme, 0)
            case ":authority":
                return (isValidAuthority(value) ? .authority : .invalid, 0)
            case ":path":
                guard let first = value.first, value.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return (.invalid, 0) }
                if first == UInt8(ascii: "/") { return (.path, 0) }
                return (value.count == 1 && first == UInt8(ascii: "*") ? .asteriskPath : .invalid, 0)
            default:
                return (.invalid, 0)  // unknown, or a response pseudo-header (:status)
            }
        }
        guard name.allSatisfy(isLowercaseTokenByte) else { return (.invalid, 0) }
        switch name.count {
        case 2 where name.elementsEqual("te".utf8):
            // Only "trailers" may travel in te (RFC 9113 §8.2.2), compared case-insensitively.
            let trailers = "trailers".utf8
            guard value.count == trailers.count, zip(value, trailers).allSatisfy({ $0 | 0x20 == $1 }) else { return (.invalid, 0) }
        case 4 where name.elementsEqual("host".utf8):
            if !isValidAuthority(value) { return (.invalid, 0) }
        case 7 where name.elementsEqual("upgrade".utf8),
             10 where name.elementsEqual("connection".utf8) || name.elementsEqual("keep-alive".utf8),
             16 where name.elementsEqual("proxy-connection".utf8),
             17 where name.elementsEqual("transfer-encoding".utf8):
            return (.invalid, 0)  // connection-specific (RFC 9113 §8.2.2)
        case 14 where name.elementsEqual("content-length".utf8):
            guard !value.isEmpty, value.count <= 18, value.allSatisfy(isDigit) else { return (.invalid, 0) }
            return (.contentLength, value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) })
        default:
            break
        }
        return (.regular, 0)
    }

    /// Whether a block's pseudo-headers make a request: :method, and :scheme with :path —
    /// or, for CONNECT, :authority without either. `*` is a path only for OPTIONS.
    static func isCompleteRequest(seen: UInt8, connect: Bool, asteriskPath: Bool, method: String) -> Bool {
        guard seen & 1 != 0 else { return false }
        if connect { return seen & 4 != 0 && seen & (2 | 8) == 0 }
        if asteriskPath && method != "OPTIONS" { return false }
        return seen & 2 != 0 && seen & 8 != 0
    }

    /// A field value: no NUL, CR or LF, and no leading or trailing space or tab.
    static func isValidValue(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        if let first = value.first, first == 0x20 || first == 0x09 { return false }
        if let last = value.last, last == 0x20 || last == 0x09 { return false }
        return !value.contains { $0 == 0 || $0 == 0x0A || $0 == 0x0D }
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// RFC 9110 tchar.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        if isAlpha(byte) || isDigit(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A field name byte: tchar without upper case (HTTP/2 names are lower case).
    private static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        isTokenByte(byte) && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// :authority and host: RFC 3986 authority characters.
    private static func isValidAuthority(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        value.allSatisfy { byte in
            if isAlpha(byte) || isDigit(byte) { return true }
            switch byte {
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
                 UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
                 UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
                 UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "["), UInt8(ascii: "]"):
                return true
            default:
                return false
            }
        }
    }
}
