import Foundation
import NimbusHTTP
import NimbusPlatform

/// The head of an S3 request as authentication sees it.
public struct S3RequestHead: Sendable {
    public var method: String
    public var target: String
    public var headers: HTTPHeaders
    public var peer: String

    public init(method: String, target: String, headers: HTTPHeaders, peer: String = "") {
        self.method = method
        self.target = target
        self.headers = headers
        self.peer = peer
    }
}

/// Who sent an S3 request, and how to read its body.
public struct S3Authenticated: Sendable {
    /// Nil for an anonymous request (only public-read buckets answer it).
    public var caller: Principal?
    /// Turns the payload as sent into the object's bytes (de-chunking and verifying
    /// `aws-chunked`, exposing its trailers); its verdict comes before the end is reported.
    public var decodeBody: @Sendable (ByteSource) throws -> ByteSource

    public init(caller: Principal?, decodeBody: @escaping @Sendable (ByteSource) throws -> ByteSource = { $0 }) {
        self.caller = caller
        self.decodeBody = decodeBody
    }
}

/// Storage's seam to the authentication side (SigV4 headers, presigned URLs, `aws-chunked`
/// payloads): answers the caller and body decoder, or throws an `S3Error` (403
/// SignatureDoesNotMatch, …).
public protocol S3Authenticating: Sendable {
    func authenticate(_ head: S3RequestHead) async throws -> S3Authenticated
}

/// Accepts the platform's signed principal (`x-nimbus-principal-bin`, base64, signed with
/// NIMBUS_PRINCIPAL_KEY) as internal callers send it; a request without one is anonymous.
/// Requests carrying an AWS signature are refused until SigV4 verification is wired in.
public struct SignedPrincipalAuthenticator: S3Authenticating {
    let verifier: PrincipalSigner

    public init(verifier: PrincipalSigner) { self.verifier = verifier }

    public func authenticate(_ head: S3RequestHead) async throws -> S3Authenticated {
        if head.headers["content-encoding"]?.lowercased().contains("aws-chunked") == true
            || head.headers["x-amz-content-sha256"]?.hasPrefix("STREAMING-") == true {
            throw S3Error.invalidRequest("aws-chunked payloads need AWS Signature V4")
        }
        if let token = head.headers[PrincipalSigner.metadataKey] {
            guard let bytes = Data(base64Encoded: token), let principal = try? verifier.verify(Array(bytes)) else {
                throw S3Error.accessDenied("the signed principal did not verify")
            }
            return S3Authenticated(caller: principal)
        }
        if head.headers["authorization"] != nil || head.target.contains("X-Amz-Signature=") {
            throw S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", status: 403)
        }
        return S3Authenticated(caller: nil)
    }
}
