import Synchronization

/// Writes a streamed response body; `write` suspends while the connection's output buffer is
/// above its high-water mark (socket backpressure) and throws once the client is gone.
public protocol HTTPBodyWriter: Sendable {
    func write(_ bytes: ArraySlice<UInt8>) async throws
    func write(_ bytes: [UInt8]) async throws
}

extension HTTPBodyWriter {
    public func write(_ bytes: [UInt8]) async throws { try await write(bytes[...]) }
}

public enum HTTPResponseBody: Sendable {
    case bytes([UInt8])
    /// `length` known: sent with Content-Length; nil: chunked transfer encoding (HTTP/1.0
    /// clients: the body ends when the connection closes).
    case stream(length: Int?, @Sendable (any HTTPBodyWriter) async throws -> Void)
}

public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: Int, headers: HTTPHeaders = [:], body: HTTPResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(_ response: HTTPResponse) {
        self.init(status: response.status, headers: response.headers, body: .bytes(response.body))
    }

    public static func text(_ status: Int, _ text: String) -> HTTPStreamingResponse {
        HTTPStreamingResponse(HTTPResponse.text(status, text))
    }

    /// Whether the status forbids a body (1xx, 204, 304).
    var statusHasNoBody: Bool { status == 204 || status == 304 || (100..<200).contains(status) }
}

/// Serves HTTP/1.1 requests with streamed bodies both ways. The server has no body cap for
/// these: the handler decides (`collect(upTo:)`, counting while it streams).
public typealias HTTPStreamingHandler = @Sendable (HTTPRequestHead, HTTPRequestBody) async -> HTTPStreamingResponse

public enum HTTPStreaming {
    /// The buffered face over the streaming one: the body is collected up to `maxBodyBytes`
    /// (413 beyond, answered without reading more), then `handler` runs.
    public static func handler(buffered handler: @escaping HTTP1Handler, maxBodyBytes: Int) -> HTTPStreamingHandler {
        { head, body in
            let bytes: [UInt8]
            do {
                bytes = try await body.collect(upTo: maxBodyBytes)
            } catch HTTPBodyError.tooLarge {
                var response = HTTPResponse.text(413, "request body exceeds \(maxBodyBytes) bytes\n")
                response.headers.add("connection", "close")
                return HTTPStreamingResponse(response)
            } catch {
                return HTTPStreamingResponse.text(400, "\(error)\n")
            }
            return HTTPStreamingResponse(await handler(HTTPRequest(head: head, body: bytes)))
        }
    }

    /// The streaming handler behind a buffered face (HTTP/2 plain requests): the complete body
    /// goes in, a streamed response is collected (no more than `maxResponseBytes`; 502 beyond).
    public static func buffered(_ handler: @escaping HTTPStreamingHandler, maxResponseBytes: Int = 64 << 20) -> HTTP1Handler {
        { request in
            let response = await handler(request.head, HTTPRequestBody(bytes: request.body))
            switch response.body {
            case .bytes(let bytes):
                return HTTPResponse(status: response.status, headers: response.headers, body: bytes)
            case .stream(_, let produce):
                let collector = CollectingWriter(limit: maxResponseBytes)
                do {
                    try await produce(collector)
                } catch {
                    return HTTPResponse.text(502, "response stream failed: \(error)\n")
                }
                return HTTPResponse(status: response.status, headers: response.headers, body: collector.bytes)
            }
        }
    }
}

/// Collects a streamed body in memory (bounded).
final class CollectingWriter: HTTPBodyWriter {
    private let collected = Mutex<[UInt8]>([])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        try collected.withLock {
            guard bytes.count <= limit - $0.count else { throw HTTPBodyError.tooLarge(limit: limit) }
            $0.append(contentsOf: bytes)
        }
    }

    var bytes: [UInt8] { collected.withLock { $0 } }
}
