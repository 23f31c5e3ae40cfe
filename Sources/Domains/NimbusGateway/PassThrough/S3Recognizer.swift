/// Tells S3 requests (for storage's S3 face) from the gateway's own REST, from the head alone:
///
/// - AWS SigV4 in the header: `Authorization: AWS4-HMAC-SHA256 Credential=…`;
/// - a presigned URL: `X-Amz-Algorithm=…` or `X-Amz-Credential=…` in the query;
/// - virtual-host style: `Host` is `<bucket>.<baseDomain>` (a configured base domain);
/// - anonymous path-style (`/bucket/key`): anything else that no REST, gRPC or operational
///   route claims — only when `anonymousPathStyle` is on (the storage upstream decides what an
///   anonymous caller may read; public buckets).
///
/// gRPC never reaches here (HTTP/2 with `application/grpc`); the gateway's own paths
/// (`/v1/…`, `/healthz`, `/readyz`, `/metrics`) are never S3 unless signed for S3.
public struct S3Recognizer: Sendable, Equatable {
    /// e.g. `s3.nimbus.example`: `bucket.s3.nimbus.example` is virtual-host style. nil: off.
    public var baseDomain: String?
    public var anonymousPathStyle: Bool

    public init(baseDomain: String? = nil, anonymousPathStyle: Bool = true) {
        self.baseDomain = baseDomain?.lowercased().trimmingDots
        self.anonymousPathStyle = anonymousPathStyle
    }

    public enum Verdict: Sendable, Equatable {
        case s3
        case gateway
    }

    /// - Parameters:
    ///   - routed: whether one of the gateway's own routes (REST, OpenAPI, operational)
    ///     claims this path.
    public func classify(target: String, host: String?, authorization: String?, routed: Bool) -> Verdict {
        if let authorization, authorization.utf8.starts(with: "AWS4-HMAC-SHA256 ".utf8) { return .s3 }
        if let query = target.firstIndex(of: "?").map({ target[target.index(after: $0)...] }), Self.isPresigned(query) { return .s3 }
        if let baseDomain, let host, Self.isVirtualHost(host, under: baseDomain) { return .s3 }
        if routed { return .gateway }
        let path = target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
        // Path-style needs at least a bucket name: `/` alone is not S3 (ListBuckets is signed).
        if anonymousPathStyle, path.count > 1, path.hasPrefix("/"), !Self.isGatewayPrefix(path) { return .s3 }
        return .gateway
    }

    static func isPresigned(_ query: Substring) -> Bool {
        for item in query.split(separator: "&") {
            let name = item.prefix { $0 != "=" }
            if name.caseInsensitiveEquals("X-Amz-Algorithm") || name.caseInsensitiveEquals("X-Amz-Credential") { return true }
        }
        return false
    }

    /// `bucket.base` (port ignored); the base itself is not a bucket.
    static func isVirtualHost(_ host: String, under base: String) -> Bool {
        var name = host.lowercased()
        if let colon = name.lastIndex(of: ":"), !name.hasSuffix("]") { name = String(name[..<colon]) }
        name = name.trimmingDots
        guard name.count > base.count + 1, name.hasSuffix(base) else { return false }
        return name[name.index(name.endIndex, offsetBy: -base.count - 1)] == "."
    }

    /// Paths the gateway owns even when no route matched (a mistyped REST path is a REST 404,
    /// not an S3 bucket).
    static func isGatewayPrefix(_ path: Substring) -> Bool {
        path.hasPrefix("/v1/") || path == "/v1" || path == "/healthz" || path == "/readyz" || path == "/metrics"
            || path.hasPrefix("/nimbus.") || path.hasPrefix("/grpc.")
    }
}

extension StringProtocol {
    fileprivate func caseInsensitiveEquals(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return zip(utf8, other.utf8).allSatisfy { ($0 | 0x20) == ($1 | 0x20) }
    }
}

extension String {
    fileprivate var trimmingDots: String {
        var s = Substring(self)
        while s.hasSuffix(".") { s = s.dropLast() }
        return String(s)
    }
}
