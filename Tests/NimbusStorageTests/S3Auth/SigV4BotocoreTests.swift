import Foundation
import NimbusPlatform
import NimbusStorage
import Testing

/// Requests signed by botocore (BotocoreFixtures.swift, from make_botocore_fixtures.py):
/// Unicode and spaces in keys, reserved characters in the query, presigned URLs.
@Suite("SigV4: requests signed by botocore")
struct SigV4BotocoreTests {
    private let signedAt = Date(timeIntervalSince1970: TimeInterval(BotocoreFixtures.signedAt))
    private var verifier: S3RequestAuthenticator {
        authenticator(at: signedAt, secrets: [BotocoreFixtures.accessKeyID: BotocoreFixtures.secret], region: "us-east-1")
    }

    @Test("header-signed requests verify", arguments: [
        ("unicode key", BotocoreFixtures.getUnicodeKey),
        ("list query", BotocoreFixtures.listWithQuery),
        ("put with payload hash", BotocoreFixtures.putWithHash),
        ("aws-chunked trailer put", BotocoreFixtures.putUnsignedTrailer),
    ])
    func headerSigned(name: String, request: SigV4.Request) async throws {
        let result = try await verifier.authenticate(request)
        #expect(result.caller?.accessKeyID == BotocoreFixtures.accessKeyID, "\(name)")
    }

    @Test("presigned URLs verify, also at the 7-day limit")
    func presigned() async throws {
        #expect(try await verifier.authenticate(BotocoreFixtures.presignedGet).presigned)
        let weekLater = authenticator(at: signedAt.addingTimeInterval(604_800),
                                      secrets: [BotocoreFixtures.accessKeyID: BotocoreFixtures.secret])
        #expect(try await weekLater.authenticate(BotocoreFixtures.presignedWeek).presigned)
    }

    @Test("the payload botocore hashed verifies; another payload is XAmzContentSHA256Mismatch")
    func payloadHash() async throws {
        let result = try await verifier.authenticate(BotocoreFixtures.putWithHash)
        var decoder = try result.payloadDecoder()
        _ = try decoder.feed(Array(BotocoreFixtures.putWithHashBody.utf8)[...])
        _ = try decoder.finish()

        var other = try result.payloadDecoder()
        _ = try other.feed(Array("Welcome to Amazon S4.".utf8)[...])
        let error = await s3Error { _ = try other.finish() }
        #expect(error?.code == .contentSHA256Mismatch)
        #expect(error?.status == 400)
    }

    @Test("a tampered path, query or signed header is SignatureDoesNotMatch")
    func tampered() async throws {
        var path = BotocoreFixtures.getUnicodeKey
        path.path = path.path.replacingOccurrences(of: "snow", with: "slow")
        var query = BotocoreFixtures.listWithQuery
        query.query = query.query?.replacingOccurrences(of: "max-keys=1000", with: "max-keys=1001")
        let header = BotocoreFixtures.putWithHash.setting("Content-Type", "text/html")
        let host = BotocoreFixtures.getUnicodeKey.setting("host", "127.0.0.1:8081")
        for request in [path, query, header, host] {
            let error = await s3Error { _ = try await verifier.authenticate(request) }
            #expect(error?.code == .signatureDoesNotMatch)
            #expect(error?.status == 403)
        }
    }

    @Test("a tampered presigned URL is SignatureDoesNotMatch")
    func tamperedPresigned() async {
        var request = BotocoreFixtures.presignedGet
        request.path = request.path.replacingOccurrences(of: "2026", with: "2027")
        let error = await s3Error { _ = try await verifier.authenticate(request) }
        #expect(error?.code == .signatureDoesNotMatch)
    }
}
