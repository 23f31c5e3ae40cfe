import Logging
import NimbusHTTP
import NimbusProtoJSON

extension Gateway {
    /// The REST face as the HTTP/1.1 server's handler.
    public var http1Handler: HTTP1Handler {
        { [self] request in
            let response = await handleHTTP(GatewayHTTPRequest(
                method: request.method, target: request.target,
                headers: request.headers.map { ($0.name, $0.value) }, body: request.body, peer: request.peer))
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name, value) }
            return HTTPResponse(status: response.status, headers: headers, body: response.body)
        }
    }

    /// The HTTP/1.1 face with streamed bodies: requests `recognizer` calls S3 pass through to
    /// `passThrough` unbuffered; everything else is the buffered REST face (bodies up to the
    /// HTTP/1.1 limit, then the gateway's own limit answers with a problem).
    public func streamingHandler(passThrough: UpstreamPassThrough?, recognizer: S3Recognizer,
                                 maxBufferedBodyBytes: Int = HTTP1Limits().maxBodyBytes) -> HTTPStreamingHandler {
        let rest = HTTPStreaming.handler(buffered: http1Handler, maxBodyBytes: maxBufferedBodyBytes)
        guard let passThrough else { return rest }
        return { [self] head, body in
            let path = String(head.path)
            let routed: Bool
            if path == "/v1/openapi.json" {
                routed = true
            } else if case .notFound = router.route(method: head.method, path: path) {
                routed = false
            } else {
                routed = true
            }
            let verdict = recognizer.classify(target: head.target, host: head.headers["host"],
                                              authorization: head.headers["authorization"], routed: routed)
            guard verdict == .s3 else { return await rest(head, body) }
            return await passThroughS3(head, body, passThrough)
        }
    }

    private func passThroughS3(_ head: HTTPRequestHead, _ body: HTTPRequestBody, _ passThrough: UpstreamPassThrough) async -> HTTPStreamingResponse {
        let started = ContinuousClock.now
        let identity = RequestIdentity(requestID: head.headers["x-request-id"], traceparent: nil)
        let response = await passThrough.forward(head, body, requestID: identity.requestID)
        let elapsed = ContinuousClock.now - started
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        metrics.record(face: "s3", route: "pass-through", status: String(response.status), nanoseconds: nanoseconds)
        if configuration.accessLog {
            logger.info("http", metadata: [
                "http.method": "\(head.method)",
                "http.path": "\(head.path.prefix(256))",
                "http.route": "s3",
                "http.status": "\(response.status)",
                "request.id": "\(identity.requestID)",
                "client.ip": "\(Self.clientIP(head.peer))",
            ])
        }
        return response
    }
}
