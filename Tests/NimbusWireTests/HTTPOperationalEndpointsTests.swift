import NimbusHTTP
import Testing

@Suite("Operational endpoints")
struct HTTPOperationalEndpointsTests {
    private func get(_ path: String, method: String = "GET", requestID: String? = nil,
                     ready: Bool = true, fallback: HTTP1Handler? = nil) async -> HTTPResponse {
        var headers = HTTPHeaders()
        if let requestID { headers.add("x-request-id", requestID) }
        let handler = HTTPOperationalEndpoints(readiness: { ready }, metrics: { Array("up 1\n".utf8) }).handler(fallback: fallback)
        return await handler(HTTPRequest(method: method, target: path, headers: headers))
    }

    @Test(arguments: [("/healthz", "GET", 200), ("/readyz", "GET", 200), ("/metrics", "GET", 200),
                      ("/healthz", "POST", 405), ("/elsewhere", "GET", 404)])
    func everyAnswerCarriesARequestID(path: String, method: String, status: Int) async {
        let response = await get(path, method: method)
        #expect(response.status == status)
        let id = response.headers["x-request-id"]
        #expect(id?.utf8.count == 32 && id?.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } == true)
        #expect(await get(path, method: method, requestID: "mine-1").headers["x-request-id"] == "mine-1")
    }

    @Test func unfitIDsAreReplacedAndNotReady503StillCarriesOne() async {
        let replaced = await get("/healthz", requestID: "has space")
        #expect(replaced.headers["x-request-id"] != "has space" && replaced.headers["x-request-id"]?.utf8.count == 32)
        let notReady = await get("/readyz", ready: false)
        #expect(notReady.status == 503 && notReady.headers["x-request-id"] != nil)
    }

    @Test func theFallbacksOwnIDIsKeptAndNotDoubled() async {
        let response = await get("/v1/things", fallback: { _ in
            var response = HTTPResponse.text(200, "{}")
            response.headers.add("x-request-id", "from-the-gateway")
            return response
        })
        #expect(response.headers.values("x-request-id") == ["from-the-gateway"])
        let bare = await get("/v1/things", requestID: "client-2", fallback: { _ in .text(200, "{}") })
        #expect(bare.headers.values("x-request-id") == ["client-2"])
    }
}
