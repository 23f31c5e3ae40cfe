import Foundation
import NimbusHTTP
import NimbusPlatform
import NimbusProto
import NimbusRPCCore

/// The S3 face's authentication: AWS Signature V4 (S3Auth's `S3RequestAuthenticator`, keys
/// from identity) for clients, the platform's signed principal for internal callers. Bodies
/// go through S3Auth's payload decoder (aws-chunked framing, chunk signatures, checksum
/// trailers): its verdict comes when the body ends, before `ByteSource` reports the end, so
/// an upload never commits bytes that failed it.
public struct SigV4Authenticator: S3Authenticating {
    let sigv4: S3RequestAuthenticator
    let principals: SignedPrincipalAuthenticator

    public init(keys: any S3SigningKeyProvider, verifier: PrincipalSigner, region: String? = nil) {
        sigv4 = S3RequestAuthenticator(keys: keys, region: region)
        principals = SignedPrincipalAuthenticator(verifier: verifier)
    }

    static func s3Error(_ error: S3AuthError) -> S3Error { S3Error(error.code.rawValue, error.message, status: error.status) }

    public func authenticate(_ head: S3RequestHead) async throws -> S3Authenticated {
        if head.headers[PrincipalSigner.metadataKey] != nil { return try await principals.authenticate(head) }
        let verified: S3AuthenticatedRequest
        do {
            verified = try await sigv4.authenticate(SigV4.Request(method: head.method, target: head.target, headers: head.headers.fields))
        } catch {
            throw Self.s3Error(error)
        }
        let needsDecoder: Bool
        switch verified.payload {
        case .unsigned: needsDecoder = head.headers["x-amz-trailer"] != nil
        default: needsDecoder = true
        }
        return S3Authenticated(caller: verified.caller?.principal) { body in
            guard needsDecoder else { return body }
            return try PayloadDecodingSource.make(verified, body: body)
        }
    }
}

/// A `ByteSource` over S3Auth's payload decoder.
enum PayloadDecodingSource {
    static func make(_ verified: S3AuthenticatedRequest, body: ByteSource) throws -> ByteSource {
        let decoder: S3PayloadDecoder
        do {
            decoder = try verified.payloadDecoder()
        } catch {
            throw SigV4Authenticator.s3Error(error)
        }
        let state = DecodingState(decoder: decoder)
        let length = decoder.decodedContentLength.map(Int64.init) ?? body.expectedLength
        return ByteSource(expectedLength: length, trailers: { state.trailers }) {
            while true {
                if !state.pending.isEmpty { return state.pending.removeFirst() }
                if state.ended { return nil }
                guard let chunk = try await body.next() else {
                    state.ended = true
                    do throws(S3AuthError) {
                        let result = try state.decoder.finish()
                        if let checksum = result.checksum { state.trailers[checksum.algorithm.headerName] = checksum.value }
                    } catch {
                        throw SigV4Authenticator.s3Error(error)
                    }
                    continue
                }
                do throws(S3AuthError) {
                    state.pending += try state.decoder.feed(chunk).filter { !$0.isEmpty }
                } catch {
                    throw SigV4Authenticator.s3Error(error)
                }
            }
        }
    }

    final class DecodingState {
        var decoder: S3PayloadDecoder
        var pending: [ArraySlice<UInt8>] = []
        var ended = false
        var trailers: [String: String] = [:]
        init(decoder: S3PayloadDecoder) { self.decoder = decoder }
    }
}
