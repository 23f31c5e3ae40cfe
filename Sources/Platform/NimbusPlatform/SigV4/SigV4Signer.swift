import Foundation

/// The client side: signs requests and presigns URLs (the CLI's `objects presign`, tests).
/// The same canonical forms the verifier uses, from the other end.
public struct SigV4Signer: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    private var secret: String
    public var region: String

    public init(accessKeyID: String, secret: String, region: String = "us-east-1") {
        self.accessKeyID = accessKeyID
        self.secret = secret
        self.region = region
    }

    /// Never the secret.
    public var description: String { "SigV4 signer for \(accessKeyID) in \(region)" }

    /// The query to append to `path` (already percent-encoded) so that anyone holding the URL can
    /// make this request until `expires` seconds after `date`. `host` is the `Host` the request
    /// will carry (`127.0.0.1:8080`). `query` holds the request's own parameters, raw.
    public func presign(method: String, host: String, path: String, query: String? = nil,
                        expires: Int, date: Date = Date()) -> String {
        let timestamp = SigV4.timestamp(date)
        let scope = SigV4.Scope(date: String(timestamp.prefix(8)), region: region)
        var parameters = [
            "X-Amz-Algorithm=\(SigV4.algorithm)",
            "X-Amz-Credential=\(SigV4.uriEncode(Array("\(accessKeyID)/\(scope)".utf8), keepSlash: false))",
            "X-Amz-Date=\(timestamp)",
            "X-Amz-Expires=\(expires)",
            "X-Amz-SignedHeaders=host",
        ]
        if let query, !query.isEmpty { parameters.insert(query, at: 0) }
        let unsigned = parameters.joined(separator: "&")
        let request = SigV4.Request(method: method, path: path, query: unsigned, headers: [("host", host)])
        let canonical = SigV4.canonicalRequest(request, signedHeaders: ["host"], payloadHash: SigV4.unsignedPayload)!
        let key = SigV4.signingKey(secret: secret, date: scope.date, region: region)
        let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical))
        return "\(unsigned)&X-Amz-Signature=\(signature)"
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `Authorization` to `request` (which must carry
    /// `host`), signing every header it has. `payloadHash` is a hex SHA-256 or a mode name.
    public func sign(_ request: SigV4.Request, payloadHash: String, date: Date = Date()) -> SigV4.Request {
        var request = request
        let timestamp = SigV4.timestamp(date)
        let scope = SigV4.Scope(date: String(timestamp.prefix(8)), region: region)
        request.headers.removeAll { $0.name.caseInsensitiveEquals("authorization") }
        request.headers.append(("x-amz-date", timestamp))
        request.headers.append(("x-amz-content-sha256", payloadHash))
        let signed = Array(Set(request.headers.map { $0.name.lowercased() })).sorted().map { Substring($0) }
        let canonical = SigV4.canonicalRequest(request, signedHeaders: signed, payloadHash: payloadHash)!
        let key = SigV4.signingKey(secret: secret, date: scope.date, region: region)
        let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: scope, canonicalRequest: canonical))
        request.headers.append(("authorization",
                                "\(SigV4.algorithm) Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"))
        return request
    }
}
