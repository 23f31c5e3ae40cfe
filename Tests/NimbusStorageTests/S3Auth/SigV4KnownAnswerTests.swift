import Foundation
import NimbusPlatform
import NimbusStorage
import Testing

/// The examples the S3 API reference publishes ("Signature Calculations for the Authorization
/// Header", "Authenticating Requests: Using Query Parameters"): an implementation that disagrees
/// with any of them disagrees with AWS.
@Suite("SigV4: AWS documentation examples")
struct SigV4KnownAnswerTests {
    private static let emptyHash = SigV4.emptySHA256

    private func header(_ signedHeaders: String, _ signature: String, date: String = "20130524") -> String {
        "AWS4-HMAC-SHA256 Credential=\(exampleAccessKeyID)/\(date)/us-east-1/s3/aws4_request,SignedHeaders=\(signedHeaders),Signature=\(signature)"
    }

    @Test("GET Object with a Range header")
    func getObject() async throws {
        let request = SigV4.Request(method: "GET", target: "/test.txt", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", Self.emptyHash), ("x-amz-date", "20130524T000000Z"),
            ("Authorization", header("host;range;x-amz-content-sha256;x-amz-date",
                                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")),
        ])
        let result = try await authenticator(at: awsExampleDate).authenticate(request)
        #expect(result.caller?.accessKeyID == exampleAccessKeyID)
        #expect(result.caller?.tenantID == "tenant-a")
        #expect(!result.presigned)
    }

    @Test("PUT Object: a '$' in the key, a Date header beside x-amz-date, a payload hash")
    func putObject() async throws {
        let request = SigV4.Request(method: "PUT", target: "/test%24file.text", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
            ("Authorization", header("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                                     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")),
        ])
        let result = try await authenticator(at: awsExampleDate).authenticate(request)
        var decoder = try result.payloadDecoder()
        let body = Array("Welcome to Amazon S3.".utf8)
        let payload = try decoder.feed(body[...])
        #expect(payload.flatMap { $0 } == body)
        #expect(try decoder.finish().decodedLength == 21)
    }

    @Test("GET Bucket lifecycle: a parameter without a value")
    func getLifecycle() async throws {
        let request = SigV4.Request(method: "GET", target: "/?lifecycle", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", Self.emptyHash),
            ("Authorization", header("host;x-amz-content-sha256;x-amz-date",
                                     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")),
        ])
        _ = try await authenticator(at: awsExampleDate).authenticate(request)
    }

    @Test("GET Bucket (list objects): parameters sorted")
    func listObjects() async throws {
        let request = SigV4.Request(method: "GET", target: "/?max-keys=2&prefix=J", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", Self.emptyHash),
            ("Authorization", header("host;x-amz-content-sha256;x-amz-date",
                                     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")),
        ])
        _ = try await authenticator(at: awsExampleDate).authenticate(request)
    }

    private static let presignedTarget = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

    @Test("presigned GET: valid until its 86400 s run out, refused one second later")
    func presigned() async throws {
        let request = SigV4.Request(method: "GET", target: Self.presignedTarget, headers: [("Host", "examplebucket.s3.amazonaws.com")])
        let result = try await authenticator(at: awsExampleDate.addingTimeInterval(86_400)).authenticate(request)
        #expect(result.presigned)
        #expect(result.caller?.accessKeyID == exampleAccessKeyID)
        let error = await s3Error { _ = try await authenticator(at: awsExampleDate.addingTimeInterval(86_401)).authenticate(request) }
        #expect(error?.code == .accessDenied)
        #expect(error?.status == 403)
        #expect(error?.message == "Request has expired")
    }

    @Test("our presigner reproduces the documented URL")
    func presigner() {
        let signer = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: exampleSecret)
        let query = signer.presign(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", expires: 86_400, date: awsExampleDate)
        #expect("/test.txt?" + query == Self.presignedTarget)
    }

    @Test("timestamps read and write ISO 8601 basic form")
    func timestamps() {
        #expect(SigV4.parseTimestamp("20130524T000000Z") == awsExampleDate)
        #expect(SigV4.timestamp(awsExampleDate) == "20130524T000000Z")
        #expect(SigV4.timestamp(Date(timeIntervalSince1970: 951_827_696)) == "20000229T123456Z")
        for bad in ["20130524T000000", "2013-05-24T00:00:00Z", "20130231T000000Z", "20131324T000000Z", "2013052xT000000Z", ""] {
            #expect(SigV4.parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test("S3 canonical URI: decoded once, encoded once, '/' kept, unreserved kept")
    func canonicalURI() {
        #expect(SigV4.canonicalURI("/a b/c%20d/e+f/%7Etilde~/caf%C3%A9") == "/a%20b/c%20d/e%2Bf/~tilde~/caf%C3%A9")
        #expect(SigV4.canonicalURI("/bucket/a%2Fb") == "/bucket/a/b")
        #expect(SigV4.canonicalURI("/bucket//double//") == "/bucket//double//")
        #expect(SigV4.canonicalURI("") == "/")
        #expect(SigV4.canonicalQuery("b=2&a=1&a=0&c&d=x%2Fy+z") == "a=0&a=1&b=2&c=&d=x%2Fy%20z")
    }
}
