import NimbusHTTP
import Testing

@Suite struct HTTP1RequestParserTests {
    private func parseAll(_ text: String, limits: HTTP1Limits = HTTP1Limits()) throws(HTTP1ParseError) -> [HTTPRequest] {
        var parser = HTTP1RequestParser(limits: limits)
        parser.append(Array(text.utf8))
        var out: [HTTPRequest] = []
        while let request = try parser.next() { out.append(request) }
        return out
    }

    @Test func simpleGetWithQuery() throws {
        let requests = try parseAll("GET /v1/buckets?limit=10 HTTP/1.1\r\nHost: x\r\nX-Api-Key:  k1 \r\n\r\n")
        #expect(requests.count == 1)
        let r = requests[0]
        #expect(r.method == "GET")
        #expect(r.path == "/v1/buckets")
        #expect(r.query == "limit=10")
        #expect(r.headers["x-api-key"] == "k1")
        #expect(r.keepAlive)
    }

    @Test func contentLengthBodyAndPipelining() throws {
        let requests = try parseAll(
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.0\r\n\r\n")
        #expect(requests.map(\.target) == ["/a", "/b"])
        #expect(requests[0].body == Array("hello".utf8))
        #expect(!requests[1].keepAlive)  // HTTP/1.0 without keep-alive
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let requests = try parseAll(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n")
        #expect(requests.first?.body == Array("Wikipedia".utf8))
    }

    @Test func byteByByteFeedingGivesTheSameRequest() throws {
        let text = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        var parser = HTTP1RequestParser()
        var got: [HTTPRequest] = []
        for byte in text.utf8 {
            parser.append([byte])
            while let request = try parser.next() { got.append(request) }
        }
        #expect(got.count == 1)
        #expect(got.first?.body == Array("abc".utf8))
    }

    @Test(arguments: [
        ("GARBAGE\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: x\n\n", 400),
        ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", 413),
        ("GET noslash HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ])
    func malformedInputGetsAClearStatus(_ text: String, _ status: Int) {
        #expect(throws: HTTP1ParseError.self) { try parseAll(text) }
        do {
            _ = try parseAll(text)
        } catch {
            #expect(error.status == status, "\(error.reason)")
        }
    }

    @Test func limitsApply() {
        var limits = HTTP1Limits()
        limits.maxHeaderBytes = 100
        limits.maxHeaderCount = 2
        limits.maxBodyBytes = 4
        #expect(throws: HTTP1ParseError(431, "request header section exceeds 100 bytes")) {
            try parseAll("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 200) + "\r\n\r\n", limits: limits)
        }
        #expect(throws: HTTP1ParseError(431, "more than 2 header fields")) {
            try parseAll("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits)
        }
        #expect(throws: HTTP1ParseError(413, "request body exceeds 4 bytes")) {
            try parseAll("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", limits: limits)
        }
    }

    @Test func responseSerialization() {
        let response = HTTPResponse.text(404, "nope\n")
        let wire = String(decoding: response.serialized(keepAlive: true), as: UTF8.self)
        #expect(wire.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(wire.contains("content-length: 5\r\n"))
        #expect(wire.contains("connection: keep-alive\r\n\r\nnope\n"))
        let head = String(decoding: response.serialized(keepAlive: false, headRequest: true), as: UTF8.self)
        #expect(head.hasSuffix("connection: close\r\n\r\n"))
    }
}
