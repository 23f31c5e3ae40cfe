import Foundation
import NimbusPlatform
import NimbusStorage
import Testing

/// Every refusal a client can meet, with the code and status S3 answers.
@Suite("SigV4: refusals")
struct SigV4FailureTests {
    private let now = Date(timeIntervalSince1970: 1_796_668_200)
    private let signer = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: exampleSecret)
    private let base = SigV4.Request(method: "GET", target: "/photos/a.txt", headers: [("host", "127.0.0.1:8080")])

    private func refusal(_ request: SigV4.Request, at date: Date? = nil,
                         secrets: [String: String] = [exampleAccessKeyID: exampleSecret]) async -> S3AuthError? {
        await s3Error { _ = try await authenticator(at: date ?? now, secrets: secrets).authenticate(request) }
    }

    @Test("our signer's requests verify (the baseline the refusals below differ from)")
    func baseline() async throws {
        let signed = signer.sign(base, payloadHash: SigV4.emptySHA256, date: now)
        #expect(try await authenticator(at: now).authenticate(signed).caller?.accessKeyID == exampleAccessKeyID)
    }

    @Test("a wrong secret is 403 SignatureDoesNotMatch")
    func wrongSecret() async {
        let signed = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: "not-the-secret").sign(base, payloadHash: SigV4.emptySHA256, date: now)
        let error = await refusal(signed)
        #expect(error?.code == .signatureDoesNotMatch)
        #expect(error?.status == 403)
    }

    @Test("an unknown access key is 403 InvalidAccessKeyId")
    func unknownKey() async {
        let signed = SigV4Signer(accessKeyID: "AKIANOSUCHKEY0000000", secret: exampleSecret).sign(base, payloadHash: SigV4.emptySHA256, date: now)
        let error = await refusal(signed)
        #expect(error?.code == .invalidAccessKeyId)
        #expect(error?.status == 403)
    }

    @Test("a clock more than 15 minutes off is 403 RequestTimeTooSkewed; 15 minutes is fine")
    func skew() async throws {
        for offset in [-901.0, 901, 86_400] {
            let signed = signer.sign(base, payloadHash: SigV4.emptySHA256, date: now.addingTimeInterval(offset))
            let error = await refusal(signed)
            #expect(error?.code == .requestTimeTooSkewed, "offset \(offset)")
            #expect(error?.status == 403)
        }
        for offset in [-900.0, 900] {
            let signed = signer.sign(base, payloadHash: SigV4.emptySHA256, date: now.addingTimeInterval(offset))
            _ = try await authenticator(at: now).authenticate(signed)
        }
    }

    @Test("presigned URLs: expired, not yet valid, longer than a week, malformed")
    func presignedLimits() async {
        let target = { (expires: Int, date: Date) in
            "/photos/a.txt?" + self.signer.presign(method: "GET", host: "127.0.0.1:8080", path: "/photos/a.txt", expires: expires, date: date)
        }
        let expired = SigV4.Request(method: "GET", target: target(60, now.addingTimeInterval(-61)), headers: [("host", "127.0.0.1:8080")])
        var error = await refusal(expired)
        #expect(error?.code == .accessDenied)
        #expect(error?.message == "Request has expired")
        #expect(error?.status == 403)

        let future = SigV4.Request(method: "GET", target: target(60, now.addingTimeInterval(3_600)), headers: [("host", "127.0.0.1:8080")])
        error = await refusal(future)
        #expect(error?.code == .accessDenied)

        let tooLong = SigV4.Request(method: "GET", target: target(604_801, now), headers: [("host", "127.0.0.1:8080")])
        error = await refusal(tooLong)
        #expect(error?.code == .authorizationQueryParametersError)
        #expect(error?.status == 400)

        let missing = SigV4.Request(method: "GET", target: "/photos/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00", headers: [("host", "x")])
        error = await refusal(missing)
        #expect(error?.code == .authorizationQueryParametersError)

        let otherMethod = SigV4.Request(method: "PUT", target: target(60, now), headers: [("host", "127.0.0.1:8080")])
        error = await refusal(otherMethod)
        #expect(error?.code == .signatureDoesNotMatch)
    }

    @Test("malformed Authorization headers are 400 AuthorizationHeaderMalformed", arguments: [
        "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/s3, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/20261206/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/s3/aws4_request, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        "AWS4-HMAC-SHA512 Credential=AKIA/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    ])
    func malformedHeader(authorization: String) async {
        let request = base.setting("x-amz-date", "20261207T183000Z").setting("x-amz-content-sha256", SigV4.emptySHA256)
            .setting("authorization", authorization)
        let error = await refusal(request)
        #expect(error?.code == .authorizationHeaderMalformed)
        #expect(error?.status == 400)
    }

    @Test("other refusals: no date, no content hash, a bad content hash, SigV2, both mechanisms, identity down")
    func otherRefusals() async {
        let signed = signer.sign(base, payloadHash: SigV4.emptySHA256, date: now)
        var noDate = signed
        noDate.headers.removeAll { $0.name == "x-amz-date" }
        #expect(await refusal(noDate)?.code == .accessDenied)

        var noHash = signed
        noHash.headers.removeAll { $0.name == "x-amz-content-sha256" }
        #expect(await refusal(noHash)?.code == .invalidRequest)

        #expect(await refusal(signed.setting("x-amz-content-sha256", "not-a-hash"))?.code == .invalidArgument)
        #expect(await refusal(base.setting("authorization", "AWS AKIA:c2lnbmF0dXJl"))?.code == .invalidRequest)

        var both = signed
        both.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        #expect(await refusal(both)?.code == .invalidArgument)

        let down = S3RequestAuthenticator(keys: UnreachableSigningKeys(), now: { now })
        let error = await s3Error { _ = try await down.authenticate(signed) }
        #expect(error?.code == .serviceUnavailable)
        #expect(error?.status == 503)
    }

    @Test("a region other than the configured one is refused; nil accepts any")
    func region() async throws {
        let eu = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: exampleSecret, region: "eu-west-1")
        let signed = eu.sign(base, payloadHash: SigV4.emptySHA256, date: now)
        _ = try await authenticator(at: now).authenticate(signed)
        let error = await s3Error { _ = try await authenticator(at: now, region: "us-east-1").authenticate(signed) }
        #expect(error?.code == .authorizationHeaderMalformed)
    }

    @Test("anonymous requests pass through without a caller")
    func anonymous() async throws {
        let result = try await authenticator(at: now).authenticate(base)
        #expect(result.caller == nil)
    }

    @Test("errors never carry the secret or the computed signature")
    func noSecretsInErrors() async {
        let signed = SigV4Signer(accessKeyID: exampleAccessKeyID, secret: "wrong").sign(base, payloadHash: SigV4.emptySHA256, date: now)
        let error = await refusal(signed)
        let good = signer.sign(base, payloadHash: SigV4.emptySHA256, date: now)
        let goodSignature = String(good.header("authorization")!.suffix(64))
        #expect(error.map { !"\($0)".contains(exampleSecret) && !"\($0)".contains(goodSignature) } == true)
    }
}
