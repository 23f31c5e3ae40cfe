import NimbusEventLoop
import Synchronization

public struct HTTP1ClientRequest: Sendable {
    public var method: String
    /// Origin-form target, e.g. `/v1.43/containers/json?all=1`.
    public var target: String
    /// Sent as given, except framing fields (Content-Length / Transfer-Encoding are written
    /// from `body`); `host` is added from the upstream address when missing.
    public var headers: HTTPHeaders
    /// Bytes, or a stream (Content-Length when its length is known, else chunked).
    public var body: HTTPResponseBody

    public init(method: String, target: String, headers: HTTPHeaders = [:], body: HTTPResponseBody = .bytes([])) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }
}

public struct HTTP1ClientResponse: Sendable {
    public var head: HTTPResponseHead
    /// Streamed in with backpressure: read it to the end (or drop it: the connection then
    /// is not reused).
    public var body: HTTPRequestBody
    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }
}

/// An HTTP/1.1 client for one upstream (`host:port` or a Unix-domain socket) on event loops,
/// with a keep-alive pool. Request and response bodies stream with backpressure.
///
///     let docker = try HTTP1Client(address: .unix("/run/docker.sock"))
///     let response = try await docker.execute(HTTP1ClientRequest(method: "GET", target: "/_ping"))
///     let text = try await response.body.collect(upTo: 1 << 20)
public final class HTTP1Client: Sendable {
    public let address: SocketAddress
    public let maxIdleConnections: Int
    public let connectTimeout: Duration
    private let loops: [EventLoop]
    private let ownedGroup: EventLoopGroup?
    private let next = Atomic<Int>(0)
    private let idle = Mutex<[HTTP1ClientConnection]>([])
    private let hostHeader: String

    /// `loops`: where connections live (e.g. the server's, to stay on the caller's threads);
    /// nil starts one loop of its own.
    public init(address: SocketAddress, loops: [EventLoop]? = nil, maxIdleConnections: Int = 16,
                connectTimeout: Duration = .seconds(5)) throws {
        self.address = address
        self.maxIdleConnections = maxIdleConnections
        self.connectTimeout = connectTimeout
        if let loops, !loops.isEmpty {
            self.loops = loops
            self.ownedGroup = nil
        } else {
            let group = try EventLoopGroup(threads: 1, name: "nimbus-http1-client")
            self.loops = group.loops
            self.ownedGroup = group
        }
        self.hostHeader = address.unixPath != nil ? "localhost" : address.description
    }

    deinit { ownedGroup?.shutdown() }

    /// Sends `request` and returns once the response head arrived (its body streams after).
    /// A request whose bytes went out on a reused connection the upstream had just closed is
    /// retried once on a new connection when its body is bytes (nothing was consumed).
    public func execute(_ request: HTTP1ClientRequest) async throws -> HTTP1ClientResponse {
        let (connection, reused) = try await checkout()
        do {
            return try await execute(request, on: connection)
        } catch let error as HTTP1ClientError {
            guard reused, case .bytes = request.body, !connection.receivedAnything else { throw error }
            return try await execute(request, on: try await newConnection())
        }
    }

    private func execute(_ request: HTTP1ClientRequest, on connection: HTTP1ClientConnection) async throws -> HTTP1ClientResponse {
        let length: Int?
        switch request.body {
        case .bytes(let bytes): length = bytes.count
        case .stream(let streamLength, _): length = streamLength
        }
        try await connection.begin(head: head(of: request, length: length), isHead: request.method == "HEAD")
        // The body goes up in its own task: an upstream may answer (and stream its response)
        // before it has read the whole request — waiting for the send first would deadlock an
        // echo once the buffers on both sides fill.
        let sender = Task { try await Self.send(request.body, length: length, on: connection) }
        do {
            let (head, body) = try await connection.responseHead()
            return HTTP1ClientResponse(head: head, body: body)
        } catch {
            // No answer: the send failure, if any, is the cause.
            if case .failure(let sendError) = await sender.result { throw sendError }
            throw error
        }
    }

    private static func send(_ body: HTTPResponseBody, length: Int?, on connection: HTTP1ClientConnection) async throws {
        let chunked = length == nil
        switch body {
        case .bytes(let bytes):
            try await connection.write(bytes[...], chunked: false)
        case .stream(_, let produce):
            let writer = RequestWriter(connection: connection, chunked: chunked, limit: length)
            do {
                try await produce(writer)
                if let length, writer.written != length {
                    throw HTTPBodyError.aborted("request stream wrote \(writer.written) of \(length) bytes")
                }
            } catch {
                // The body's source failed: the request cannot be completed on this connection.
                connection.abort(error)
                throw error
            }
        }
        try await connection.endRequest(chunked: chunked)
    }

    private func head(of request: HTTP1ClientRequest, length: Int?) -> [UInt8] {
        var out = "\(request.method) \(request.target) HTTP/1.1\r\n"
        var hasHost = false
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "transfer-encoding" { continue }
            if lower == "host" { hasHost = true }
            out += "\(name): \(value)\r\n"
        }
        if !hasHost { out += "host: \(hostHeader)\r\n" }
        if let length {
            if length > 0 || !["GET", "HEAD", "DELETE", "OPTIONS"].contains(request.method) { out += "content-length: \(length)\r\n" }
        } else {
            out += "transfer-encoding: chunked\r\n"
        }
        out += "\r\n"
        return Array(out.utf8)
    }

    private func checkout() async throws -> (HTTP1ClientConnection, reused: Bool) {
        while let connection = idle.withLock({ $0.popLast() }) {
            if connection.isUsable { return (connection, true) }
        }
        return (try await newConnection(), false)
    }

    private func newConnection() async throws -> HTTP1ClientConnection {
        let loop = loops[next.add(1, ordering: .relaxed).oldValue % loops.count]
        let connection = HTTP1ClientConnection(loop: loop, address: address) { [weak self] connection in
            guard let self else { return }
            let kept = self.idle.withLock { idle -> Bool in
                guard idle.count < self.maxIdleConnections else { return false }
                idle.append(connection)
                return true
            }
            if !kept { connection.abort(HTTP1ClientError.closed("pool full")) }
        }
        try await connection.connect(timeout: connectTimeout)
        return connection
    }

    /// Idle connections in the pool (tests).
    public var idleConnectionCount: Int { idle.withLock { $0.filter(\.isUsable).count } }
}

private final class RequestWriter: HTTPBodyWriter, @unchecked Sendable {
    // @unchecked: used by one producer task at a time (the request's body closure).
    let connection: HTTP1ClientConnection
    let chunked: Bool
    let limit: Int?
    var written = 0

    init(connection: HTTP1ClientConnection, chunked: Bool, limit: Int?) {
        self.connection = connection
        self.chunked = chunked
        self.limit = limit
    }

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        if let limit, bytes.count > limit - written {
            throw HTTPBodyError.aborted("request stream wrote more than \(limit) bytes")
        }
        written += bytes.count
        try await connection.write(bytes, chunked: chunked)
    }
}
