import Foundation

/// A `Range: bytes=…` header resolved against an object's length (RFC 9110 §14.1.2). S3
/// serves one range; a header it cannot use (other units, several ranges, malformed) is
/// ignored and the whole object sent, as S3 does; an unsatisfiable one is 416.
public enum S3Range: Equatable, Sendable {
    case whole
    case partial(ClosedRange<Int64>)

    public static func resolve(_ header: String?, length: Int64) throws -> S3Range {
        guard let header = header?.trimmingCharacters(in: .whitespaces), header.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // Suffix: the last n bytes.
            guard let n = Int64(last), n >= 0 else { return .whole }
            guard n > 0, length > 0 else { throw S3Error.invalidRange }
            return .partial(max(0, length - n)...(length - 1))
        }
        guard let start = Int64(first), start >= 0 else { return .whole }
        var end = length - 1
        if !last.isEmpty {
            guard let e = Int64(last), e >= start else { return .whole }
            end = min(e, length - 1)
        }
        guard start < length else { throw S3Error.invalidRange }
        return .partial(start...end)
    }
}

