/// S3's bucket naming rules (general purpose buckets): 3–63 characters of lowercase letters,
/// digits, dots and hyphens, starting and ending with a letter or digit, no adjacent dots, not
/// an IPv4 address, none of the reserved prefixes and suffixes.
public enum BucketName {
    /// Nil when valid, else why not.
    public static func problem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return "bucket names must be between 3 and 63 characters long" }
        for b in bytes {
            let ok = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
            if !ok { return "bucket names may contain only lowercase letters, digits, dots and hyphens" }
        }
        func alnum(_ b: UInt8) -> Bool { b != UInt8(ascii: ".") && b != UInt8(ascii: "-") }
        guard alnum(bytes.first!), alnum(bytes.last!) else { return "bucket names must begin and end with a letter or digit" }
        if name.contains("..") { return "bucket names must not contain two adjacent periods" }
        if name.contains(".-") || name.contains("-.") { return "bucket names must not contain a period next to a hyphen" }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) { return "bucket names must not be formatted as an IP address" }
        for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] where name.hasPrefix(prefix) { return "bucket names must not start with \(prefix)" }
        for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] where name.hasSuffix(suffix) {
            return "bucket names must not end with \(suffix)"
        }
        return nil
    }

    public static func validate(_ name: String) throws {
        if let problem = problem(name) { throw S3Error.invalidBucketName(problem).with(resource: name) }
    }
}
