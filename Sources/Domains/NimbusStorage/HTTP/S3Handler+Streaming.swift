import NimbusHTTP

extension S3Handler {
    /// The S3 face with streamed bodies: request bytes reach the blob store as they arrive
    /// (the connection reads the socket only while the consumer keeps up), object bytes go out
    /// as they are read from disk.
    public func streamingHandler() -> HTTPStreamingHandler {
        { head, body in
            let s3Head = S3RequestHead(method: head.method, target: head.target, headers: head.headers, peer: head.peer)
            let source = ByteSource(expectedLength: body.expectedLength.map(Int64.init)) { try await body.next() }
            let response = await self.handle(S3HTTPRequest(head: s3Head, body: source))
            var headers = response.headers
            switch response.body {
            case .bytes(let bytes):
                if head.method == "HEAD", let length = headers["content-length"].flatMap(Int.init) {
                    // HEAD: the object's length, no body.
                    headers.remove("content-length")
                    return HTTPStreamingResponse(status: response.status, headers: headers, body: .stream(length: length) { _ in })
                }
                headers.remove("content-length")
                return HTTPStreamingResponse(status: response.status, headers: headers, body: .bytes(bytes))
            case .stream(let length, let produce):
                headers.remove("content-length")
                return HTTPStreamingResponse(status: response.status, headers: headers, body: .stream(length: Int(length)) { writer in
                    try await produce { chunk in try await writer.write(chunk) }
                })
            }
        }
    }
}
