import NimbusGateway
import NimbusHTTP
import Testing

/// Which requests the gateway passes through to storage's S3 face, from the head alone.
@Suite struct S3RecognizerTests {
    let recognizer = S3Recognizer(baseDomain: "s3.nimbus.test", anonymousPathStyle: true)

    @Test(arguments: [(String, String?, String?, Bool, S3Recognizer.Verdict)]([
        // SigV4 in the header wins even on a path the gateway owns.
        ("/v1/users", nil, "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab", true, .s3),
        ("/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x", nil, nil, false, .s3),
        ("/bucket/key?x-amz-credential=x", nil, nil, false, .s3),
        ("/key.txt", "photos.s3.nimbus.test", nil, false, .s3),
        ("/key.txt", "photos.s3.nimbus.test:8080", nil, false, .s3),
        ("/bucket/key", "gateway.local", nil, false, .s3),          // anonymous path-style
        ("/bucket", nil, nil, false, .s3),
        // The gateway's own.
        ("/v1/instances", nil, "Bearer nk_live_x", true, .gateway),
        ("/v1/typo", nil, nil, false, .gateway),                     // a REST 404, not a bucket
        ("/", nil, nil, false, .gateway),
        ("/healthz", nil, nil, false, .gateway),
        ("/key.txt", "s3.nimbus.test", nil, false, .s3),            // the base itself: path-style
        ("/v1/users", "s3.nimbus.test", nil, true, .gateway),
        ("/bucket/key", nil, "Basic dXNlcjpwYXNz", false, .s3),
        ("/x", "evil-s3.nimbus.test", nil, true, .gateway),         // not a subdomain
    ]))
    func classifies(_ target: String, _ host: String?, _ authorization: String?, _ routed: Bool, _ expected: S3Recognizer.Verdict) {
        #expect(recognizer.classify(target: target, host: host, authorization: authorization, routed: routed) == expected)
    }

    @Test func withoutAnonymousPathStyleOnlySignedOrVirtualHostRequestsAreS3() {
        let strict = S3Recognizer(baseDomain: nil, anonymousPathStyle: false)
        #expect(strict.classify(target: "/bucket/key", host: "x", authorization: nil, routed: false) == .gateway)
        #expect(strict.classify(target: "/bucket/key", host: "photos.s3.nimbus.test", authorization: nil, routed: false) == .gateway)
        #expect(strict.classify(target: "/bucket/key?X-Amz-Credential=a", host: nil, authorization: nil, routed: false) == .s3)
    }

    @Test func hopByHopHeadersAreNotForwarded() {
        let headers: HTTPHeaders = [
            "host": "photos.s3.nimbus.test", "connection": "keep-alive, x-private", "x-private": "1",
            "transfer-encoding": "chunked", "keep-alive": "timeout=5", "expect": "100-continue",
            "authorization": "AWS4-HMAC-SHA256 …", "x-amz-date": "20261207T000000Z", "te": "trailers",
        ]
        let forwarded = UpstreamPassThrough.forwardable(headers)
        #expect(forwarded.map(\.name) == ["host", "authorization", "x-amz-date"])
    }
}
