/// A single byte range of a representation (RFC 9110 §14): `Range: bytes=a-b | a- | -n`
/// resolved against the representation's length.
public struct HTTPRange: Sendable, Equatable {
    /// First and last byte, inclusive.
    public var first: Int
    public var last: Int
    public var count: Int { last - first + 1 }

    public init(first: Int, last: Int) {
        self.first = first
        self.last = last
    }

    public enum Resolution: Sendable, Equatable {
        /// No Range header, or one we ignore (another unit, several ranges, malformed): 200 with
        /// the whole representation, as RFC 9110 allows.
        case whole
        /// 206 with `Content-Range: bytes first-last/length`.
        case partial(HTTPRange)
        /// 416 with `Content-Range: bytes */length`.
        case unsatisfiable
    }

    /// Resolves a `Range` header value against `length` bytes.
    public static func resolve(_ header: String?, length: Int) -> Resolution {
        guard let header else { return .whole }
        let value = header.trimmingSpaces
        guard value.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = value.dropFirst(6).trimmingSpaces
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let a = spec[..<dash].trimmingSpaces, b = spec[spec.index(after: dash)...].trimmingSpaces
        func number(_ s: String) -> Int? {
            guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
            return Int(s)
        }
        if a.isEmpty {
            // Suffix: the last n bytes.
            guard let n = number(b) else { return .whole }
            guard n > 0, length > 0 else { return .unsatisfiable }
            return .partial(HTTPRange(first: max(0, length - n), last: length - 1))
        }
        guard let first = number(a) else { return .whole }
        let last: Int
        if b.isEmpty {
            last = length - 1
        } else {
            guard let end = number(b), end >= first else { return .whole }
            last = min(end, length - 1)
        }
        guard first < length else { return .unsatisfiable }
        return .partial(HTTPRange(first: first, last: last))
    }

    /// `bytes first-last/length`.
    public func contentRange(length: Int) -> String { "bytes \(first)-\(last)/\(length)" }

    /// The 416 answer's header value: `bytes */length`.
    public static func unsatisfiedContentRange(length: Int) -> String { "bytes */\(length)" }
}
