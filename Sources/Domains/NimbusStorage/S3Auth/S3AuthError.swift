/// A refusal by S3 authentication or payload verification, carrying what S3 answers: the
/// error code clients branch on, the HTTP status and a message. Messages never hold a secret,
/// a signing key or a signature computed on our side.
public struct S3AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let signatureDoesNotMatch = Code(rawValue: "SignatureDoesNotMatch")
        public static let invalidAccessKeyId = Code(rawValue: "InvalidAccessKeyId")
        public static let accessDenied = Code(rawValue: "AccessDenied")
        public static let authorizationHeaderMalformed = Code(rawValue: "AuthorizationHeaderMalformed")
        public static let authorizationQueryParametersError = Code(rawValue: "AuthorizationQueryParametersError")
        public static let requestTimeTooSkewed = Code(rawValue: "RequestTimeTooSkewed")
        public static let contentSHA256Mismatch = Code(rawValue: "XAmzContentSHA256Mismatch")
        public static let invalidArgument = Code(rawValue: "InvalidArgument")
        public static let invalidRequest = Code(rawValue: "InvalidRequest")
        public static let incompleteBody = Code(rawValue: "IncompleteBody")
        public static let badDigest = Code(rawValue: "BadDigest")
        public static let malformedTrailer = Code(rawValue: "MalformedTrailerError")
        public static let notImplemented = Code(rawValue: "NotImplemented")
        public static let serviceUnavailable = Code(rawValue: "ServiceUnavailable")
    }

    public var code: Code
    public var status: Int
    public var message: String

    public init(_ code: Code, status: Int, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    public var description: String { "\(code) (\(status)): \(message)" }

    static func signatureMismatch() -> S3AuthError {
        S3AuthError(.signatureDoesNotMatch, status: 403,
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
    }
    static func headerMalformed(_ detail: String) -> S3AuthError {
        S3AuthError(.authorizationHeaderMalformed, status: 400, "The authorization header is malformed; \(detail)")
    }
    static func queryMalformed(_ detail: String) -> S3AuthError {
        S3AuthError(.authorizationQueryParametersError, status: 400, detail)
    }
    static func chunkSignatureMismatch() -> S3AuthError {
        S3AuthError(.signatureDoesNotMatch, status: 403,
                    "The chunk signature we calculated does not match the signature you provided.")
    }
    static func malformedChunks(_ detail: String) -> S3AuthError {
        S3AuthError(.invalidRequest, status: 400, "Malformed aws-chunked body: \(detail)")
    }
    static func incompleteBody() -> S3AuthError {
        S3AuthError(.incompleteBody, status: 400,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.")
    }
}
