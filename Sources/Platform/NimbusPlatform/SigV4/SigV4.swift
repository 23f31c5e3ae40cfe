import Foundation

/// AWS Signature Version 4 as S3 uses it: the pieces every mode shares (signing key, scope,
/// string to sign, canonical request, hex, timestamps). Pure functions, no I/O. Here (not in the
/// storage domain) so the CLI can presign URLs without linking a service; verification of whole
/// requests and bodies lives in NimbusStorage/S3Auth.
/// Reference: "Authenticating Requests (AWS Signature Version 4)" in the S3 API reference.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let service = "s3"
    public static let terminator = "aws4_request"
    /// hex(SHA-256("")): the hash of an empty payload, and of every chunk's empty "headers".
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Presigned URLs live at most a week (S3's limit).
    public static let maximumExpiry = 604_800

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"):
    /// valid for one day, one region, one service; what identity hands out instead of the secret.
    public static func signingKey(secret: String, date: String, region: String, service: String = SigV4.service) -> [UInt8] {
        var key = HMACSHA256.authenticationCode(key: Array("AWS4\(secret)".utf8), message: Array(date.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(region.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(service.utf8))
        return HMACSHA256.authenticationCode(key: key, message: Array(terminator.utf8))
    }

    /// `date/region/service/aws4_request`: the credential scope.
    public struct Scope: Sendable, Hashable, CustomStringConvertible {
        public var date: String
        public var region: String
        public var service: String

        public init(date: String, region: String, service: String = SigV4.service) {
            self.date = date
            self.region = region
            self.service = service
        }

        public var description: String { "\(date)/\(region)/\(service)/\(SigV4.terminator)" }
    }

    public static func stringToSign(timestamp: String, scope: Scope, canonicalRequest: String) -> String {
        "\(algorithm)\n\(timestamp)\n\(scope)\n\(hex(SHA256.hash(canonicalRequest)))"
    }

    /// Lower-case hex of HMAC(signingKey, stringToSign).
    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        hex(HMACSHA256.authenticationCode(key: signingKey, message: Array(stringToSign.utf8)))
    }

    /// Whether `provided` (hex as the client sent it) equals `expected`, without an early exit
    /// on the first differing byte.
    public static func signaturesMatch(_ provided: Substring, _ expected: String) -> Bool {
        ConstantTime.equals(Array(provided.lowercased().utf8), Array(expected.utf8))
    }

    // MARK: - Hex (the house's `Hex`, lower-case)

    public static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// Nil unless `text` is an even number of hex digits.
    public static func unhex(_ text: some StringProtocol) -> [UInt8]? { Hex.decode(String(text)) }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: - Timestamps (ISO 8601 basic, UTC: 20130524T000000Z)

    /// Seconds since 1970 for `yyyyMMdd'T'HHmmss'Z'`, nil for anything else.
    public static func parseTimestamp(_ text: some StringProtocol) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(b[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        guard civil(fromDays: days) == (year, month, day) else { return nil }  // no 31 February
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }

    /// `yyyyMMdd'T'HHmmss'Z'` for `date` (whole seconds, UTC).
    public static func timestamp(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)\(two(month))\(two(day))T\(two(rest / 3_600))\(two(rest % 3_600 / 60))\(two(rest % 60))Z"
    }

    // Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
