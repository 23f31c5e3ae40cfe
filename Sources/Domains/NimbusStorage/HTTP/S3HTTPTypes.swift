import NimbusHTTP

/// An S3 request as the face handles it: the head, and the body as chunks.
public struct S3HTTPRequest: Sendable {
    public var head: S3RequestHead
    public var body: ByteSource

    public init(head: S3RequestHead, body: ByteSource) {
        self.head = head
        self.body = body
    }
}

public enum S3ResponseBody: Sendable {
    case bytes([UInt8])
    /// `length` bytes written through the closure's writer (a GET's object bytes).
    case stream(length: Int64, @Sendable (_ write: @Sendable (ArraySlice<UInt8>) async throws -> Void) async throws -> Void)
}

public struct S3HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: S3ResponseBody

    public init(status: Int, headers: HTTPHeaders = [:], body: S3ResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func xml(_ status: Int, _ bytes: [UInt8], headers: HTTPHeaders = [:]) -> S3HTTPResponse {
        var headers = headers
        headers.replace("content-type", "application/xml")
        return S3HTTPResponse(status: status, headers: headers, body: .bytes(bytes))
    }
}
