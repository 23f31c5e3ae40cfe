import Foundation
import NimbusPlatform
import NimbusStorage
import Testing

/// aws-chunked bodies: the AWS documentation's signed example, botocore's trailer framing,
/// our own signed trailers, and every way a body can be cut, altered or padded.
@Suite("aws-chunked payloads")
struct AWSChunkedTests {
    // MARK: - The documented example: 66560 bytes of 'a' in 64 KiB chunks, 20130524

    private static let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    private static let chunkSignatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]

    private static let exampleRequest = SigV4.Request(method: "PUT", target: "/examplebucket/chunkObject.txt", headers: [
        ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=\(seed)"),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
    ])

    private static func exampleBody(signatures: [String] = chunkSignatures) -> [UInt8] {
        var body = Array("10000;chunk-signature=\(signatures[0])\r\n".utf8)
        body += [UInt8](repeating: UInt8(ascii: "a"), count: 65_536) + Array("\r\n".utf8)
        body += Array("400;chunk-signature=\(signatures[1])\r\n".utf8)
        body += [UInt8](repeating: UInt8(ascii: "a"), count: 1_024) + Array("\r\n".utf8)
        body += Array("0;chunk-signature=\(signatures[2])\r\n\r\n".utf8)
        return body
    }

    private func exampleDecoder() async throws -> S3PayloadDecoder {
        let result = try await authenticator(at: awsExampleDate).authenticate(Self.exampleRequest)
        #expect(result.payload.isChunked)
        return try result.payloadDecoder()
    }

    /// Feeds `body` in pieces of `split` bytes; the payload out and the verdict.
    private func decode(_ decoder: inout S3PayloadDecoder, _ body: [UInt8], split: Int) throws -> ([UInt8], S3PayloadResult) {
        var payload: [UInt8] = []
        var index = 0
        while index < body.count {
            for piece in try decoder.feed(body[index..<min(body.count, index + split)]) { payload += piece }
            index += split
        }
        return (payload, try decoder.finish())
    }

    @Test("the documented signed upload decodes, whatever the socket's reads", arguments: [1, 7, 1_000, 65_536, 66_824])
    func documentedExample(split: Int) async throws {
        #expect(Self.exampleBody().count == 66_824)
        var decoder = try await exampleDecoder()
        let (payload, result) = try decode(&decoder, Self.exampleBody(), split: split)
        #expect(payload == [UInt8](repeating: UInt8(ascii: "a"), count: 66_560))
        #expect(result.decodedLength == 66_560)
    }

    @Test("a tampered chunk signature, tampered data or a reordered chain is SignatureDoesNotMatch")
    func tampered() async throws {
        var signatures = Self.chunkSignatures
        signatures[1] = String(signatures[1].dropLast()) + "8"
        var bodies = [Self.exampleBody(signatures: signatures)]
        var data = Self.exampleBody()
        data[200] = UInt8(ascii: "b")
        bodies.append(data)
        bodies.append(Self.exampleBody(signatures: [Self.chunkSignatures[1], Self.chunkSignatures[0], Self.chunkSignatures[2]]))
        for body in bodies {
            var decoder = try await exampleDecoder()
            let error = await s3Error { _ = try decode(&decoder, body, split: 4_096) }
            #expect(error?.code == .signatureDoesNotMatch)
            #expect(error?.status == 403)
            // A failed decoder stays failed.
            #expect(await s3Error { _ = try decoder.feed([0][...]) }?.code == .signatureDoesNotMatch)
        }
    }

    @Test("a body cut short, padded, or longer than declared is refused")
    func framing() async throws {
        let body = Self.exampleBody()
        var cut = try await exampleDecoder()
        #expect(await s3Error { _ = try decode(&cut, Array(body.dropLast(2)), split: 512) }?.code == .incompleteBody)

        var padded = try await exampleDecoder()
        #expect(await s3Error { _ = try decode(&padded, body + Array("x".utf8), split: 512) }?.code == .invalidRequest)

        var garbage = try await exampleDecoder()
        #expect(await s3Error { _ = try decode(&garbage, Array("zz;chunk-signature=00\r\n".utf8), split: 8) }?.code == .invalidRequest)

        var noSignature = try await exampleDecoder()
        #expect(await s3Error { _ = try decode(&noSignature, Array("10000\r\n".utf8), split: 8) }?.code == .invalidRequest)

        var longLine = try await exampleDecoder()
        let line = [UInt8](repeating: UInt8(ascii: "0"), count: AWSChunkedDecoder.maximumLineLength + 1)
        #expect(await s3Error { _ = try decode(&longLine, line, split: 1_000) }?.code == .invalidRequest)

        // x-amz-decoded-content-length is what the decoder holds the body to.
        let unsigned = SigV4.Request(method: "PUT", target: "/b/k", headers: [
            ("host", "h"), ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", "3"),
        ])
        var declared = try await authenticator(at: awsExampleDate).authenticate(unsigned).payloadDecoder()
        #expect(await s3Error { _ = try decode(&declared, Array("4\r\nabcd\r\n0\r\n\r\n".utf8), split: 3) }?.code == .invalidRequest)
        declared = try await authenticator(at: awsExampleDate).authenticate(unsigned).payloadDecoder()
        #expect(await s3Error { _ = try decode(&declared, Array("2\r\nab\r\n0\r\n\r\n".utf8), split: 3) }?.code == .incompleteBody)
    }

    // MARK: - botocore's STREAMING-UNSIGNED-PAYLOAD-TRAILER

    private static let botocorePayload = (0..<5_000).map { UInt8(($0 * 7 + 3) % 251) }

    private func unsignedTrailerDecoder(_ algorithm: S3ChecksumAlgorithm) async throws -> S3PayloadDecoder {
        let request = BotocoreFixtures.putUnsignedTrailer
            .setting("x-amz-trailer", algorithm.headerName).setting("x-amz-sdk-checksum-algorithm", algorithm.displayName)
        // Unsigned streams do not depend on the signature (changing x-amz-trailer above breaks
        // it), so these go through anonymously: what matters here is the body.
        var anonymous = request
        anonymous.headers.removeAll { $0.name.lowercased() == "authorization" }
        return try await authenticator(at: awsExampleDate).authenticate(anonymous).payloadDecoder()
    }

    @Test("botocore's trailer bodies decode and their checksums verify", arguments: [S3ChecksumAlgorithm.crc32, .sha1, .sha256])
    func botocoreTrailers(algorithm: S3ChecksumAlgorithm) async throws {
        let hex = [.crc32: BotocoreFixtures.trailer_crc32_hex, .sha1: BotocoreFixtures.trailer_sha1_hex,
                   .sha256: BotocoreFixtures.trailer_sha256_hex][algorithm]!
        for split in [1, 100, 2_048, 10_000] {
            var decoder = try await unsignedTrailerDecoder(algorithm)
            let (payload, result) = try decode(&decoder, Hex.decode(hex)!, split: split)
            #expect(payload == Self.botocorePayload)
            #expect(result.checksum?.algorithm == algorithm)
        }
    }

    @Test("the signed request botocore sends with that body verifies")
    func botocoreTrailerRequest() async throws {
        let signedAt = Date(timeIntervalSince1970: TimeInterval(BotocoreFixtures.signedAt))
        let result = try await authenticator(at: signedAt, secrets: [BotocoreFixtures.accessKeyID: BotocoreFixtures.secret])
            .authenticate(BotocoreFixtures.putUnsignedTrailer)
        var decoder = try result.payloadDecoder()
        let (payload, verdict) = try decode(&decoder, Hex.decode(BotocoreFixtures.trailer_crc32_hex)!, split: 4_096)
        #expect(payload == Self.botocorePayload)
        #expect(verdict.checksum == S3Checksum(algorithm: .crc32, value: "PB+UBg=="))
    }

    @Test("a wrong trailer checksum is BadDigest; a missing trailer is MalformedTrailerError")
    func badTrailer() async throws {
        var body = Hex.decode(BotocoreFixtures.trailer_crc32_hex)!
        let tail = Array(BotocoreFixtures.trailer_crc32_tail.utf8)
        body.removeLast(tail.count)
        var wrong = try await unsignedTrailerDecoder(.crc32)
        var error = await s3Error { _ = try decode(&wrong, body + Array("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".utf8), split: 999) }
        #expect(error?.code == .badDigest)
        #expect(error?.status == 400)

        var altered = try await unsignedTrailerDecoder(.crc32)
        var flipped = Hex.decode(BotocoreFixtures.trailer_crc32_hex)!
        flipped[10] ^= 0x01  // a payload byte (the first chunk's data starts at offset 5)
        error = await s3Error { _ = try decode(&altered, flipped, split: 999) }
        #expect(error?.code == .badDigest)

        var missing = try await unsignedTrailerDecoder(.crc32)
        error = await s3Error { _ = try decode(&missing, body + Array("0\r\n\r\n".utf8), split: 999) }
        #expect(error?.code == .malformedTrailer)
    }

    // MARK: - STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (signed chunks and a signed trailer)

    /// Frames `chunks` as an SDK does, each signature chained from the previous one; the
    /// string-to-sign is written out here from the S3 documentation, independently of the decoder.
    private static func signedTrailerBody(chunks: [[UInt8]], trailer: String, key: [UInt8], timestamp: String,
                                          scope: String, seed: String) -> [UInt8] {
        var previous = seed
        var body: [UInt8] = []
        for chunk in chunks + [[]] {
            let toSign = "AWS4-HMAC-SHA256-PAYLOAD\n\(timestamp)\n\(scope)\n\(previous)\n\(SigV4.emptySHA256)\n\(Hex.encode(SHA256.hash(chunk)))"
            previous = SigV4.signature(signingKey: key, stringToSign: toSign)
            body += Array("\(String(chunk.count, radix: 16));chunk-signature=\(previous)\r\n".utf8) + chunk
            if !chunk.isEmpty { body += Array("\r\n".utf8) }
        }
        let toSign = "AWS4-HMAC-SHA256-TRAILER\n\(timestamp)\n\(scope)\n\(previous)\n\(Hex.encode(SHA256.hash(trailer + "\n")))"
        body += Array("\(trailer)\r\nx-amz-trailer-signature:\(SigV4.signature(signingKey: key, stringToSign: toSign))\r\n\r\n".utf8)
        return body
    }

    @Test("signed chunks with a signed checksum trailer verify; an altered trailer does not")
    func signedTrailer() async throws {
        let now = Date(timeIntervalSince1970: 1_796_668_200)
        let payload = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        let crc = Data(withUnsafeBytes(of: CRC32C.checksum(payload).bigEndian) { Array($0) }).base64EncodedString()
        let request = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: exampleSecret).sign(
            SigV4.Request(method: "PUT", target: "/photos/signed.bin", headers: [
                ("host", "127.0.0.1:8080"), ("content-encoding", "aws-chunked"),
                ("x-amz-trailer", "x-amz-checksum-crc32c"), ("x-amz-decoded-content-length", "20000"),
            ]), payloadHash: S3PayloadMode.streamingSignedTrailer, date: now)
        let seed = String(request.header("authorization")!.suffix(64))
        let key = SigV4.signingKey(secret: exampleSecret, date: "20261207", region: "us-east-1")
        let frame = { (trailer: String) in
            Self.signedTrailerBody(chunks: [Array(payload[..<8_192]), Array(payload[8_192...])], trailer: trailer, key: key,
                                   timestamp: "20261207T183000Z", scope: "20261207/us-east-1/s3/aws4_request", seed: seed)
        }
        let verifier = authenticator(at: now)
        var decoder = try await verifier.authenticate(request).payloadDecoder()
        let (decoded, result) = try decode(&decoder, frame("x-amz-checksum-crc32c:\(crc)"), split: 3_000)
        #expect(decoded == payload)
        #expect(result.checksum == S3Checksum(algorithm: .crc32c, value: crc))

        // The trailer's signature covers it: swapping the value after signing fails the signature.
        var swapped = frame("x-amz-checksum-crc32c:\(crc)")
        let text = String(decoding: swapped, as: UTF8.self).replacingOccurrences(of: "crc32c:\(crc)", with: "crc32c:AAAAAA==")
        swapped = Array(text.utf8)
        decoder = try await verifier.authenticate(request).payloadDecoder()
        #expect(await s3Error { _ = try decode(&decoder, swapped, split: 3_000) }?.code == .signatureDoesNotMatch)

        // A correctly signed but wrong checksum is BadDigest.
        decoder = try await verifier.authenticate(request).payloadDecoder()
        #expect(await s3Error { _ = try decode(&decoder, frame("x-amz-checksum-crc32c:AAAAAA=="), split: 3_000) }?.code == .badDigest)
    }

    @Test("a checksum header on a plain body verifies, and a wrong one is BadDigest")
    func checksumHeader() async throws {
        let body = Array("hello, checksums".utf8)
        let crc = Data(withUnsafeBytes(of: CRC32.checksum(body).bigEndian) { Array($0) }).base64EncodedString()
        var decoder = try S3PayloadDecoder(mode: .unsigned, headers: [("x-amz-checksum-crc32", crc)])
        _ = try decoder.feed(body[...])
        #expect(try decoder.finish().checksum == S3Checksum(algorithm: .crc32, value: crc))

        decoder = try S3PayloadDecoder(mode: .unsigned, headers: [("x-amz-checksum-crc32", "AAAAAA==")])
        _ = try decoder.feed(body[...])
        #expect(await s3Error { _ = try decoder.finish() }?.code == .badDigest)

        let two = await s3Error { _ = try S3PayloadDecoder(mode: .unsigned, headers: [("x-amz-checksum-crc32", crc), ("x-amz-checksum-sha1", "x")]) }
        #expect(two?.code == .invalidRequest)
    }
}
