import NimbusHTTP
import Synchronization

extension S3Handler {
    /// The S3 face over a buffered HTTP/1.1 handler (bodies up to the server's HTTP/1.1 body
    /// limit): for hosts without the streaming face; the service uses `streamingHandler()`.
    public func http1Handler() -> HTTP1Handler {
        { request in
            let head = S3RequestHead(method: request.method, target: request.target, headers: request.headers, peer: request.peer)
            let length = request.headers["content-length"] != nil || !request.body.isEmpty ? Int64(request.body.count) : nil
            let body = ByteSource(bytes: request.body)
            let response = await self.handle(S3HTTPRequest(head: head, body: length == nil ? ByteSource(expectedLength: nil) { nil } : body))
            switch response.body {
            case .bytes(let bytes):
                var headers = response.headers
                headers.remove("content-length")
                if request.method == "HEAD" {
                    // The buffered writer derives Content-Length from the body: keep the real one.
                    return HTTPResponse(status: response.status, headers: response.headers, body: [])
                }
                return HTTPResponse(status: response.status, headers: headers, body: bytes)
            case .stream(_, let produce):
                let collected = Mutex<[UInt8]>([])
                do {
                    try await produce { chunk in collected.withLock { $0 += chunk } }
                } catch {
                    return HTTPResponse(status: 500, headers: response.headers, body: [])
                }
                var headers = response.headers
                headers.remove("content-length")
                return HTTPResponse(status: response.status, headers: headers, body: collected.withLock { $0 })
            }
        }
    }
}
