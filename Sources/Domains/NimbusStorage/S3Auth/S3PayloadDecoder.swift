import NimbusPlatform

/// Verifies a request body as it streams, whatever its mode: plain bytes, a declared SHA-256,
/// aws-chunked (signed chunks or not, with checksum trailers or not), and a checksum declared
/// in a header (`x-amz-checksum-crc32: …`) or a trailer (`x-amz-trailer: x-amz-checksum-crc32`).
///
/// `feed` returns the payload bytes to store; `finish` gives the verdict on the whole body and
/// must succeed before anything is committed (payload bytes are handed out before the check
/// that covers them can run).
public struct S3PayloadDecoder {
    public let mode: S3PayloadMode
    private var chunked: AWSChunkedDecoder?
    private var sha256: StreamingDigest?
    private var checksum: S3ChecksumComputer?
    /// The value a header declared (nil when it comes in the trailer).
    private let declaredChecksum: String?
    private let checksumInTrailer: Bool
    /// `x-amz-decoded-content-length` for aws-chunked bodies.
    public let decodedContentLength: Int?
    public private(set) var decodedCount = 0
    private var failure: S3AuthError?

    /// Reads `x-amz-decoded-content-length`, `x-amz-trailer` and `x-amz-checksum-*` from the
    /// request's headers; refuses contradictory or malformed ones before any body is read.
    public init(mode: S3PayloadMode, headers: [(name: String, value: String)]) throws(S3AuthError) {
        self.mode = mode
        func header(_ name: String) -> String? { headers.first { $0.name.caseInsensitiveEquals(name) }?.value }

        if mode.isChunked, let text = header("x-amz-decoded-content-length") {
            guard let length = Int(text.trimmed(of: " \t")), length >= 0 else {
                throw S3AuthError(.invalidArgument, status: 400, "x-amz-decoded-content-length must be a non-negative integer.")
            }
            decodedContentLength = length
        } else {
            decodedContentLength = nil
        }

        var trailerAlgorithm: S3ChecksumAlgorithm?
        if case .chunked(_, trailer: true) = mode {
            let names = (header("x-amz-trailer") ?? "").split(separator: ",").map { $0.trimmed(of: " \t") }.filter { !$0.isEmpty }
            guard names.count <= 1 else {
                throw S3AuthError(.invalidArgument, status: 400, "x-amz-trailer may name one checksum, not \(names.count).")
            }
            if let name = names.first {
                guard let algorithm = S3ChecksumAlgorithm(headerName: name) else {
                    throw S3AuthError(.invalidArgument, status: 400, "x-amz-trailer names an unsupported trailer '\(name.prefix(64))'.")
                }
                trailerAlgorithm = algorithm
            }
        } else if header("x-amz-trailer") != nil {
            throw S3AuthError(.invalidRequest, status: 400, "x-amz-trailer needs a STREAMING-…-TRAILER x-amz-content-sha256.")
        }

        let headerChecksums = headers.compactMap { field in
            S3ChecksumAlgorithm(headerName: field.name).map { ($0, field.value.trimmed(of: " \t")) }
        }
        guard headerChecksums.count + (trailerAlgorithm == nil ? 0 : 1) <= 1 else {
            throw S3AuthError(.invalidRequest, status: 400, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
        }
        if let algorithm = trailerAlgorithm {
            checksum = S3ChecksumComputer(algorithm)
            declaredChecksum = nil
            checksumInTrailer = true
        } else if let (algorithm, value) = headerChecksums.first {
            checksum = S3ChecksumComputer(algorithm)
            declaredChecksum = value
            checksumInTrailer = false
        } else {
            declaredChecksum = nil
            checksumInTrailer = false
        }

        switch mode {
        case .unsigned: break
        case .sha256: sha256 = StreamingDigest(.sha256)
        case .chunked(let signing, let trailer): chunked = AWSChunkedDecoder(signing: signing, expectsTrailer: trailer)
        }
    }

    /// The algorithm whose checksum this body carries, if any.
    public var checksumAlgorithm: S3ChecksumAlgorithm? { checksum?.algorithm }

    /// Feeds received bytes; returns the payload among them (slices of `bytes`).
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(S3AuthError) -> [ArraySlice<UInt8>] {
        if let failure { throw failure }
        do throws(S3AuthError) {
            let payload: [ArraySlice<UInt8>]
            if chunked != nil {
                payload = try chunked!.feed(bytes)
            } else {
                payload = bytes.isEmpty ? [] : [bytes]
            }
            for piece in payload {
                decodedCount += piece.count
                sha256?.update(piece)
                checksum?.update(piece)
            }
            if let decodedContentLength, decodedCount > decodedContentLength {
                throw S3AuthError(.invalidRequest, status: 400, "The aws-chunked body holds more than x-amz-decoded-content-length bytes.")
            }
            return payload
        } catch {
            failure = error
            throw error
        }
    }

    /// The verdict once the body ended: throws when it was cut short, does not hash to the
    /// declared SHA-256, fails a chunk or trailer signature, or misses its checksum.
    public mutating func finish() throws(S3AuthError) -> S3PayloadResult {
        if let failure { throw failure }
        do throws(S3AuthError) {
            var trailers: [(name: String, value: String)] = []
            if chunked != nil {
                try chunked!.finish()
                trailers = chunked!.trailers
            }
            if let decodedContentLength, decodedCount != decodedContentLength { throw S3AuthError.incompleteBody() }
            if case .sha256(let expected) = mode, let digest = sha256 {
                sha256 = nil
                guard ConstantTime.equals(digest.finalize(), expected) else {
                    throw S3AuthError(.contentSHA256Mismatch, status: 400,
                                      "The provided 'x-amz-content-sha256' header does not match what was computed.")
                }
            }
            var verified: S3Checksum?
            if var computer = checksum {
                checksum = nil
                let algorithm = computer.algorithm
                let provided: String?
                if checksumInTrailer {
                    provided = trailers.first { $0.name == algorithm.headerName }?.value
                    guard provided != nil else {
                        throw S3AuthError(.malformedTrailer, status: 400, "The trailer is missing \(algorithm.headerName).")
                    }
                } else {
                    provided = declaredChecksum
                }
                let computed = computer.finalize()
                guard provided == computed else {
                    throw S3AuthError(.badDigest, status: 400, "The \(algorithm.displayName) you specified did not match the calculated checksum.")
                }
                verified = S3Checksum(algorithm: algorithm, value: computed)
            }
            return S3PayloadResult(decodedLength: decodedCount, checksum: verified)
        } catch {
            failure = error
            throw error
        }
    }
}

/// A body that verified: its length and its checksum (when one was declared).
public struct S3PayloadResult: Sendable, Equatable {
    public var decodedLength: Int
    public var checksum: S3Checksum?
}
