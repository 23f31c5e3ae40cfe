/// The canonical request: S3's rules, which differ from the other AWS services in one place —
/// the path is encoded once (each byte of the key; `/` kept), never normalised or encoded twice.
extension SigV4 {
    /// The request as the client sent it: method, raw (still percent-encoded) path and query,
    /// and every header field in order. Whatever sits between the client and us must keep the
    /// path, query, `Host` and every signed header byte for byte.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: String?
        public var headers: [(name: String, value: String)]

        public init(method: String, path: String, query: String?, headers: [(name: String, value: String)]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
        }

        /// Splits a request target (`/bucket/key?list-type=2`) at its first `?`.
        public init(method: String, target: String, headers: [(name: String, value: String)]) {
            if let mark = target.firstIndex(of: "?") {
                self.init(method: method, path: String(target[..<mark]), query: String(target[target.index(after: mark)...]), headers: headers)
            } else {
                self.init(method: method, path: target, query: nil, headers: headers)
            }
        }

        /// The first value of a header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveEquals(name) }?.value
        }

        /// Query parameters, percent-decoded (`+` read as a space), in order.
        public var queryItems: [(name: String, value: String)] {
            guard let query, !query.isEmpty else { return [] }
            return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
                let (name, value) = SigV4.splitParameter(pair)
                return (String(decoding: SigV4.percentDecode(name, plusIsSpace: true), as: UTF8.self),
                        String(decoding: SigV4.percentDecode(value, plusIsSpace: true), as: UTF8.self))
            }
        }
    }

    /// S3's UriEncode: every byte except A–Z a–z 0–9 `-` `.` `_` `~` as `%XY` (upper-case hex);
    /// `/` kept when `keepSlash` (paths), encoded otherwise (query names and values).
    public static func uriEncode(_ bytes: some Sequence<UInt8>, keepSlash: Bool) -> String {
        var out = [UInt8]()
        let upper = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(upper[Int(byte >> 4)])
                out.append(upper[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XY` escapes; a `%` not followed by two hex digits stays as it is.
    public static func percentDecode(_ text: some StringProtocol, plusIsSpace: Bool) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out
    }

    static func splitParameter(_ pair: Substring) -> (Substring, Substring) {
        guard let equals = pair.firstIndex(of: "=") else { return (pair, "") }
        return (pair[..<equals], pair[pair.index(after: equals)...])
    }

    /// The path decoded once and encoded by S3's rules, so a client that escaped more or fewer
    /// characters than the canonical form still matches (`/a%20b`, `/a b` → `/a%20b`).
    public static func canonicalURI(_ rawPath: String) -> String {
        if rawPath.isEmpty { return "/" }
        return uriEncode(percentDecode(rawPath, plusIsSpace: false), keepSlash: true)
    }

    /// Parameters decoded, re-encoded, sorted by name then value, `name=value` joined by `&`
    /// (a parameter without `=` signs as `name=`). `excluding` drops one (X-Amz-Signature).
    public static func canonicalQuery(_ rawQuery: String?, excluding: String? = nil) -> String {
        guard let rawQuery, !rawQuery.isEmpty else { return "" }
        var pairs: [(String, String)] = []
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let (rawName, rawValue) = splitParameter(pair)
            let name = percentDecode(rawName, plusIsSpace: true)
            if let excluding, name == Array(excluding.utf8) { continue }
            pairs.append((uriEncode(name, keepSlash: false), uriEncode(percentDecode(rawValue, plusIsSpace: true), keepSlash: false)))
        }
        // Byte order (the encoded forms are ASCII, so String's order is byte order).
        pairs.sort { $0.0 != $1.0 ? $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) : $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// `name:value\n` for each signed header (lower-case, in the order given, which the client
    /// sorted): values trimmed, inner runs of spaces collapsed, repeated fields joined by `,`.
    /// Nil when a signed header is absent (the signature cannot match then).
    public static func canonicalHeaders(_ headers: [(name: String, value: String)], signed: [Substring]) -> String? {
        var out = ""
        for name in signed {
            let values = headers.filter { $0.name.caseInsensitiveEquals(name) }.map { trimAndCollapse($0.value) }
            guard !values.isEmpty else { return nil }
            out += "\(name):\(values.joined(separator: ","))\n"
        }
        return out
    }

    static func trimAndCollapse(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in value.unicodeScalars {
            if character == " " || character == "\t" {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.unicodeScalars.append(" ") }
            pendingSpace = false
            out.unicodeScalars.append(character)
        }
        return out
    }

    /// method \n canonical URI \n canonical query \n canonical headers \n signed headers \n payload hash.
    public static func canonicalRequest(_ request: Request, signedHeaders: [Substring], payloadHash: String,
                                 excludingQuery: String? = nil) -> String? {
        guard let headers = canonicalHeaders(request.headers, signed: signedHeaders) else { return nil }
        return [request.method, canonicalURI(request.path), canonicalQuery(request.query, excluding: excludingQuery),
                headers, signedHeaders.joined(separator: ";"), payloadHash].joined(separator: "\n")
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality (header names are ASCII).
    public func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a) }
    }
}
