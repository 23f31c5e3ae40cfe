import Foundation
import NimbusPlatform

/// Who signed an S3 request: the principal its access key acts for (the API key's user,
/// tenant, role and permissions) and the access key id itself.
public struct S3Caller: Sendable, Hashable, CustomStringConvertible {
    public var principal: Principal
    public var accessKeyID: String

    public init(principal: Principal, accessKeyID: String) {
        self.principal = principal
        self.accessKeyID = accessKeyID
    }

    public var tenantID: String { principal.tenantID }
    public var description: String { "\(principal) with access key \(accessKeyID)" }
}

/// A day's signing key for an access key and whom it acts for: what identity hands to
/// services instead of the secret (`S3Credentials.GetSigningKey`).
public struct S3SigningKeyGrant: Sendable, CustomStringConvertible {
    public var signingKey: [UInt8]
    public var caller: S3Caller

    public init(signingKey: [UInt8], caller: S3Caller) {
        self.signingKey = signingKey
        self.caller = caller
    }

    /// Never the key.
    public var description: String { "signing key for \(caller)" }
}

/// Where signing keys come from (identity over RPC, cached under the auth lease; a fixed table
/// in tests). Throws `S3AuthError` `.invalidAccessKeyId` for an unknown or revoked key; any
/// other error is reported as the service being unavailable.
public protocol S3SigningKeyProvider: Sendable {
    func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant
}

/// A request whose signature verified (or an anonymous one), and how its body is to be checked.
public struct S3AuthenticatedRequest: Sendable {
    /// Nil for an anonymous request (no Authorization header, no presigned query): only
    /// public-read buckets answer those.
    public var caller: S3Caller?
    public var payload: S3PayloadMode
    /// True when authenticated by a presigned URL.
    public var presigned: Bool
    /// The request's headers, for `payloadDecoder()`.
    public var headers: [(name: String, value: String)]

    /// The body decoder for this request (reads the aws-chunked and checksum headers).
    public func payloadDecoder() throws(S3AuthError) -> S3PayloadDecoder {
        try S3PayloadDecoder(mode: payload, headers: headers)
    }
}

/// Verifies AWS Signature Version 4 on an S3 request's head (header or presigned query form),
/// before any body byte is read. Pure apart from the key provider it asks.
public struct S3RequestAuthenticator: Sendable {
    public var keys: any S3SigningKeyProvider
    /// When set, a credential scope naming another region is refused (AuthorizationHeaderMalformed);
    /// nil accepts any region (the signing key is derived for the region the client chose).
    public var region: String?
    /// How far a request's time may be from ours (S3: 15 minutes).
    public var maximumClockSkew: TimeInterval
    public var now: @Sendable () -> Date

    public init(keys: any S3SigningKeyProvider, region: String? = nil, maximumClockSkew: TimeInterval = 15 * 60,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.keys = keys
        self.region = region
        self.maximumClockSkew = maximumClockSkew
        self.now = now
    }

    /// The caller and payload mode, or the S3 error to answer with.
    public func authenticate(_ request: SigV4.Request) async throws(S3AuthError) -> S3AuthenticatedRequest {
        let authorization = request.header("authorization")
        let queryItems = request.queryItems
        let presigned = queryItems.contains { $0.name == "X-Amz-Algorithm" || $0.name == "X-Amz-Signature" || $0.name == "X-Amz-Credential" }
        switch (authorization, presigned) {
        case (.some, true):
            throw S3AuthError(.invalidArgument, status: 400,
                              "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
        case (.some(let value), false):
            return try await authenticateHeader(value, request)
        case (nil, true):
            return try await authenticatePresigned(queryItems, request)
        case (nil, false):
            if queryItems.contains(where: { $0.name == "Signature" || $0.name == "AWSAccessKeyId" }) {
                throw S3AuthError(.invalidRequest, status: 400,
                                  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
            }
            let mode = try request.header("x-amz-content-sha256").map { v throws(S3AuthError) in try S3PayloadMode.parse(v, signing: nil) } ?? .unsigned
            return S3AuthenticatedRequest(caller: nil, payload: mode, presigned: false, headers: request.headers)
        }
    }

    // MARK: - Authorization header

    private func authenticateHeader(_ value: String, _ request: SigV4.Request) async throws(S3AuthError) -> S3AuthenticatedRequest {
        guard value.hasPrefix(SigV4.algorithm + " ") else {
            if value.hasPrefix("AWS ") {
                throw S3AuthError(.invalidRequest, status: 400,
                                  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
            }
            throw S3AuthError.headerMalformed("the authorization type must be \(SigV4.algorithm)")
        }
        var fields: [Substring: Substring] = [:]
        for part in value.dropFirst(SigV4.algorithm.count + 1).split(separator: ",") {
            let trimmed = Substring(part.trimmed(of: " \t"))
            guard let equals = trimmed.firstIndex(of: "=") else { throw S3AuthError.headerMalformed("'\(trimmed.prefix(40))' is not name=value") }
            fields[trimmed[..<equals]] = trimmed[trimmed.index(after: equals)...]
        }
        guard let credentialText = fields["Credential"], let signedText = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw S3AuthError.headerMalformed("it must hold Credential, SignedHeaders and Signature")
        }
        guard let timestamp = request.header("x-amz-date")?.trimmed(of: " \t"), let time = SigV4.parseTimestamp(timestamp) else {
            throw S3AuthError(.accessDenied, status: 403, "AWS authentication requires a valid Date or x-amz-date header")
        }
        let credential = try parseCredential(credentialText, timestamp: timestamp, malformed: S3AuthError.headerMalformed)
        guard abs(time.timeIntervalSince(now())) <= maximumClockSkew else {
            throw S3AuthError(.requestTimeTooSkewed, status: 403,
                              "The difference between the request time and the current time is too large.")
        }
        let signedHeaders = try parseSignedHeaders(signedText, malformed: S3AuthError.headerMalformed)
        guard let contentHash = request.header("x-amz-content-sha256")?.trimmed(of: " \t") else {
            throw S3AuthError(.invalidRequest, status: 400, "Missing required header for this request: x-amz-content-sha256")
        }
        // The mode is checked before asking for a key: a malformed value costs no round trip.
        _ = try S3PayloadMode.parse(contentHash, signing: S3ChunkSigning(signingKey: [], timestamp: "", scope: credential.scope, seedSignature: ""))

        let grant = try await grant(for: credential)
        guard let canonical = SigV4.canonicalRequest(request, signedHeaders: signedHeaders, payloadHash: contentHash) else {
            throw S3AuthError.signatureMismatch()
        }
        let expected = SigV4.signature(signingKey: grant.signingKey,
                                       stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: credential.scope, canonicalRequest: canonical))
        guard SigV4.signaturesMatch(signature, expected) else { throw S3AuthError.signatureMismatch() }
        let signing = S3ChunkSigning(signingKey: grant.signingKey, timestamp: timestamp, scope: credential.scope, seedSignature: expected)
        return S3AuthenticatedRequest(caller: grant.caller, payload: try S3PayloadMode.parse(contentHash, signing: signing),
                                      presigned: false, headers: request.headers)
    }

    // MARK: - Presigned query

    private func authenticatePresigned(_ items: [(name: String, value: String)], _ request: SigV4.Request) async throws(S3AuthError) -> S3AuthenticatedRequest {
        func item(_ name: String) -> String? { items.first { $0.name == name }?.value }
        guard let algorithm = item("X-Amz-Algorithm"), let credentialText = item("X-Amz-Credential"),
              let signature = item("X-Amz-Signature"), let timestamp = item("X-Amz-Date"),
              let signedText = item("X-Amz-SignedHeaders"), let expiresText = item("X-Amz-Expires") else {
            throw S3AuthError.queryMalformed("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        }
        guard algorithm == SigV4.algorithm else {
            throw S3AuthError.queryMalformed("X-Amz-Algorithm only supports \"\(SigV4.algorithm)\"")
        }
        guard let time = SigV4.parseTimestamp(timestamp) else {
            throw S3AuthError.queryMalformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        }
        guard let expires = Int(expiresText) else { throw S3AuthError.queryMalformed("X-Amz-Expires should be a number") }
        guard expires >= 0 else { throw S3AuthError.queryMalformed("X-Amz-Expires must be non-negative") }
        guard expires <= SigV4.maximumExpiry else {
            throw S3AuthError.queryMalformed("X-Amz-Expires must be less than a week (in seconds) that is; \(SigV4.maximumExpiry)")
        }
        let credential = try parseCredential(Substring(credentialText), timestamp: timestamp, malformed: S3AuthError.queryMalformed)
        let current = now()
        guard time.timeIntervalSince(current) <= maximumClockSkew else {
            throw S3AuthError(.accessDenied, status: 403, "Request is not valid yet")
        }
        guard current.timeIntervalSince(time) <= TimeInterval(expires) else {
            throw S3AuthError(.accessDenied, status: 403, "Request has expired")
        }
        let signedHeaders = try parseSignedHeaders(Substring(signedText), malformed: S3AuthError.queryMalformed)
        let payloadHash = item("X-Amz-Content-Sha256") ?? S3PayloadMode.unsignedPayload
        let mode = try S3PayloadMode.parse(payloadHash, signing: nil)

        let grant = try await grant(for: credential)
        guard let canonical = SigV4.canonicalRequest(request, signedHeaders: signedHeaders, payloadHash: payloadHash,
                                                     excludingQuery: "X-Amz-Signature") else {
            throw S3AuthError.signatureMismatch()
        }
        let expected = SigV4.signature(signingKey: grant.signingKey,
                                       stringToSign: SigV4.stringToSign(timestamp: timestamp, scope: credential.scope, canonicalRequest: canonical))
        guard SigV4.signaturesMatch(Substring(signature), expected) else { throw S3AuthError.signatureMismatch() }
        return S3AuthenticatedRequest(caller: grant.caller, payload: mode, presigned: true, headers: request.headers)
    }

    // MARK: - Shared parts

    private struct Credential {
        var accessKeyID: String
        var scope: SigV4.Scope
    }

    /// `AKID/yyyyMMdd/region/s3/aws4_request`, its date the request's day.
    private func parseCredential(_ text: Substring, timestamp: String, malformed: (String) -> S3AuthError) throws(S3AuthError) -> Credential {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, !parts[0].isEmpty, parts[1].utf8.count == 8, parts[1].allSatisfy(\.isASCII),
              parts[1].allSatisfy(\.isNumber), !parts[2].isEmpty else {
            throw malformed("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        guard parts[4] == SigV4.terminator else {
            throw malformed("the Credential should be scoped with a valid terminator: 'aws4_request', not '\(parts[4].prefix(40))'.")
        }
        guard parts[3] == SigV4.service else {
            throw malformed("the Credential should be scoped to correct service: '\(SigV4.service)'.")
        }
        guard timestamp.hasPrefix(parts[1]) else {
            throw malformed("Invalid credential date \"\(parts[1])\". This date is not the same as X-Amz-Date: \"\(timestamp.prefix(8))\".")
        }
        if let region, parts[2] != region {
            throw malformed("the region '\(parts[2].prefix(40))' is wrong; expecting '\(region)'")
        }
        return Credential(accessKeyID: String(parts[0]), scope: SigV4.Scope(date: String(parts[1]), region: String(parts[2])))
    }

    /// Lower-case names joined by `;`; `host` must be among them.
    private func parseSignedHeaders(_ text: Substring, malformed: (String) -> S3AuthError) throws(S3AuthError) -> [Substring] {
        let names = text.split(separator: ";", omittingEmptySubsequences: false)
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && $0 == Substring($0.lowercased()) }) else {
            throw malformed("SignedHeaders must be lower-case header names separated by ';'.")
        }
        guard names.contains("host") else {
            throw malformed("SignedHeaders must include 'host'.")
        }
        return names
    }

    private func grant(for credential: Credential) async throws(S3AuthError) -> S3SigningKeyGrant {
        do {
            return try await keys.signingKey(accessKeyID: credential.accessKeyID, date: credential.scope.date, region: credential.scope.region)
        } catch let error as S3AuthError {
            throw error
        } catch {
            throw S3AuthError(.serviceUnavailable, status: 503, "Please reduce your request rate.")
        }
    }
}

extension S3AuthError {
    public static func invalidAccessKey() -> S3AuthError {
        S3AuthError(.invalidAccessKeyId, status: 403, "The AWS Access Key Id you provided does not exist in our records.")
    }
}
