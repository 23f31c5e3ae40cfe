import NimbusHTTP

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
}
