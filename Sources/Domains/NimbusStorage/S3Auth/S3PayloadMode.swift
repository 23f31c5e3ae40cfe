import NimbusPlatform

/// How a request's body is protected, from `x-amz-content-sha256` (or a presigned URL):
/// what `S3PayloadDecoder` must check while the body streams.
public enum S3PayloadMode: Sendable, CustomStringConvertible {
    /// `UNSIGNED-PAYLOAD`, presigned URLs and anonymous requests: bytes as they come.
    case unsigned
    /// A hex SHA-256 the body must hash to (`XAmzContentSHA256Mismatch` otherwise).
    case sha256([UInt8])
    /// `aws-chunked`: `signing` present for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`
    /// (each chunk signed, chained from the seed signature), nil for
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`; `trailer` when a trailer follows the last chunk.
    case chunked(signing: S3ChunkSigning?, trailer: Bool)

    public static let unsignedPayload = SigV4.unsignedPayload
    public static let streamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    public static let streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    public static let streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    static let streamingECDSA = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
    static let streamingECDSATrailer = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"

    public var description: String {
        switch self {
        case .unsigned: "unsigned"
        case .sha256(let hash): "sha256 \(SigV4.hex(hash))"
        case .chunked(let signing, let trailer): "aws-chunked (\(signing == nil ? "unsigned" : "signed")\(trailer ? ", trailer" : ""))"
        }
    }

    /// Whether the body is aws-chunked (and `x-amz-decoded-content-length` gives its length).
    public var isChunked: Bool { if case .chunked = self { true } else { false } }

    /// Reads the header's value; `signing` is what a signed stream chains from (nil for
    /// anonymous requests, where signed streaming modes cannot be checked).
    static func parse(_ value: String, signing: S3ChunkSigning?) throws(S3AuthError) -> S3PayloadMode {
        switch value {
        case unsignedPayload: return .unsigned
        case streamingUnsignedTrailer: return .chunked(signing: nil, trailer: true)
        case streamingSigned, streamingSignedTrailer:
            guard let signing else {
                throw S3AuthError(.invalidRequest, status: 400, "\(value) needs a request signed with an Authorization header")
            }
            return .chunked(signing: signing, trailer: value == streamingSignedTrailer)
        case streamingECDSA, streamingECDSATrailer:
            throw S3AuthError(.notImplemented, status: 501, "Signature Version 4A (\(value)) is not supported")
        default:
            guard value.utf8.count == 64, let hash = SigV4.unhex(value) else {
                throw S3AuthError(.invalidArgument, status: 400,
                                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-… mode or a valid sha256 value.")
            }
            return .sha256(hash)
        }
    }
}

/// What a signed aws-chunked stream chains from: the day's signing key, the request's
/// timestamp and scope, and the seed signature (the request's own).
public struct S3ChunkSigning: Sendable, CustomStringConvertible {
    public var signingKey: [UInt8]
    public var timestamp: String
    public var scope: SigV4.Scope
    public var seedSignature: String

    public init(signingKey: [UInt8], timestamp: String, scope: SigV4.Scope, seedSignature: String) {
        self.signingKey = signingKey
        self.timestamp = timestamp
        self.scope = scope
        self.seedSignature = seedSignature
    }

    /// Never the key.
    public var description: String { "chunk signing for \(scope) at \(timestamp)" }

    /// AWS4-HMAC-SHA256-PAYLOAD \n timestamp \n scope \n previous signature \n hash("") \n hash(chunk).
    func chunkSignature(previous: String, chunkHash: [UInt8]) -> String {
        SigV4.signature(signingKey: signingKey, stringToSign:
            "AWS4-HMAC-SHA256-PAYLOAD\n\(timestamp)\n\(scope)\n\(previous)\n\(SigV4.emptySHA256)\n\(SigV4.hex(chunkHash))")
    }

    /// AWS4-HMAC-SHA256-TRAILER \n timestamp \n scope \n previous signature \n hash(trailer lines).
    func trailerSignature(previous: String, trailerHash: [UInt8]) -> String {
        SigV4.signature(signingKey: signingKey, stringToSign:
            "AWS4-HMAC-SHA256-TRAILER\n\(timestamp)\n\(scope)\n\(previous)\n\(SigV4.hex(trailerHash))")
    }
}
