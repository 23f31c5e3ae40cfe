import NimbusEventLoop

/// Serves one plain (non-gRPC) HTTP/2 request with an `HTTP1Handler`, so the REST face and the
/// operational endpoints answer over h2c and TLS+h2 exactly as over HTTP/1.1: the body is
/// buffered up to the HTTP/1.1 body limit, the handler runs as a task on the stream's loop, and
/// the response goes out as HEADERS + DATA.
public final class HTTP2PlainRequestHandler: HTTP2ServerStream, @unchecked Sendable {
    // @unchecked: touched only on the stream's loop; the handler task is pinned there
    // (executor preference) and hops back with `loop.execute` if it ever is not.
    private let head: HTTP2RequestHead
    private let handler: HTTP1Handler
    private let maxBodyBytes: Int
    private var body: [UInt8] = []
    private var refused = false
    private var task: Task<Void, Never>?

    /// `head` is taken here: the session drops the stream's header fields once it is routed.
    public init(opening: HTTP2StreamOpening, head: HTTP2RequestHead, handler: @escaping HTTP1Handler, maxBodyBytes: Int) {
        self.head = head
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        super.init(opening: opening)
    }

    public override func streamReceivedData(_ bytes: UnsafeRawBufferPointer) {
        // The whole body is buffered before the handler runs, so the window reopens at once.
        consume(bytes.count)
        guard !refused else { return }
        if body.count + bytes.count > maxBodyBytes {
            refused = true
            body = []
            var response = HTTPResponse.text(413, "request body exceeds \(maxBodyBytes) bytes\n")
            response.headers.add("x-request-id", RequestIdentity.newRequestID())
            respond(response, headRequest: false)
            return
        }
        body.append(contentsOf: bytes)
    }

    public override func streamReceivedEnd() {
        guard !refused, task == nil else { return }
        let request = makeRequest()
        let loop = self.loop
        let handler = self.handler
        task = Task(executorPreference: loop) { [self] in
            let response = await handler(request)
            if loop.inEventLoop {
                respond(response, headRequest: request.method == "HEAD")
            } else {
                loop.execute { self.respond(response, headRequest: request.method == "HEAD") }
            }
        }
    }

    public override func streamClosed(errorCode: UInt32) {
        task?.cancel()
        task = nil
    }

    private func makeRequest() -> HTTPRequest {
        var headers = HTTPHeaders()
        for field in head.fields { headers.add(field.name, field.value) }
        if headers["host"] == nil, !head.authority.isEmpty { headers.add("host", head.authority) }
        let request = HTTPRequest(method: head.method, target: head.path.isEmpty ? "/" : head.path,
                                  version: HTTPVersion(major: 2, minor: 0), headers: headers, body: body, peer: peer)
        body = []
        return request
    }

    /// Connection-specific fields are not allowed in HTTP/2 (RFC 9113 §8.2.2); content-length
    /// is written from the body.
    private static let droppedFields: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "content-length",
    ]

    private func respond(_ response: HTTPResponse, headRequest: Bool) {
        guard !isClosed else { return }
        var block = HTTP2HeaderBlock()
        block.add(":status", String(response.status))
        for (name, value) in response.headers {
            let lower = name.lowercased()
            if Self.droppedFields.contains(lower) { continue }
            block.add(lower, value)
        }
        let noBody = response.status == 204 || response.status == 304 || headRequest || response.body.isEmpty
        if !(response.status == 204 || response.status == 304) {
            block.add("content-length", String(response.body.count))
        }
        if noBody {
            sendHeadersOnly(block)
            return
        }
        sendResponseHead(block)
        writeData { $0.append(contentsOf: response.body) }
        finish()
    }
}
