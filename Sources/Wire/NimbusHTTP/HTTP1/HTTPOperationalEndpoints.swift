/// The endpoints every Nimbus port answers over HTTP/1.1: `GET /healthz` (alive),
/// `GET /readyz` (the readiness closure), `GET /metrics` (Prometheus text exposition bytes from the closure).
/// Everything else goes to `fallback` (the gateway's REST router) or gets 404. Every answer
/// carries `x-request-id` (the client's when sane, else a new one) unless the fallback set one.
public struct HTTPOperationalEndpoints: Sendable {
    public var readiness: @Sendable () async -> Bool
    public var metrics: @Sendable () async -> [UInt8]

    public init(readiness: @escaping @Sendable () async -> Bool = { true },
                metrics: @escaping @Sendable () async -> [UInt8] = { [] }) {
        self.readiness = readiness
        self.metrics = metrics
    }

    public func handler(fallback: HTTP1Handler? = nil) -> HTTP1Handler {
        let readiness = self.readiness, metrics = self.metrics
        return { request in
            var response = await Self.respond(request, readiness: readiness, metrics: metrics, fallback: fallback)
            if response.headers["x-request-id"] == nil {
                response.headers.add("x-request-id", RequestIdentity.requestID(answering: request))
            }
            return response
        }
    }

    private static func respond(_ request: HTTPRequest, readiness: @Sendable () async -> Bool,
                                metrics: @Sendable () async -> [UInt8], fallback: HTTP1Handler?) async -> HTTPResponse {
        let isRead = request.method == "GET" || request.method == "HEAD"
        switch request.path {
        case "/healthz" where isRead:
            return .text(200, "ok\n")
        case "/readyz" where isRead:
            return await readiness() ? .text(200, "ready\n") : .text(503, "not ready\n")
        case "/metrics" where isRead:
            return HTTPResponse(status: 200, headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"], body: await metrics())
        case "/healthz", "/readyz", "/metrics":
            var response = HTTPResponse.text(405, "method not allowed\n")
            response.headers.add("allow", "GET, HEAD")
            return response
        default:
            if let fallback { return await fallback(request) }
            return .text(404, "not found\n")
        }
    }

    /// The same endpoints in front of a streaming handler: they answer without reading the
    /// body; everything else streams to `fallback` (404 if nil).
    public func streamingHandler(fallback: HTTPStreamingHandler?) -> HTTPStreamingHandler {
        let operational = handler(fallback: nil)
        return { head, body in
            switch head.path {
            case "/healthz", "/readyz", "/metrics":
                return HTTPStreamingResponse(await operational(HTTPRequest(head: head)))
            default:
                var response = if let fallback { await fallback(head, body) } else { HTTPStreamingResponse.text(404, "not found\n") }
                if response.headers["x-request-id"] == nil {
                    response.headers.add("x-request-id", RequestIdentity.requestID(answering: HTTPRequest(head: head)))
                }
                return response
            }
        }
    }
}
