/// Header fields in order, names matched case-insensitively.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name, value) }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public mutating func replace(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
    }

    /// The first value of `name`.
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    public func values(_ name: String) -> [String] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A request's line and header fields, before (or without) its body.
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The request-target as sent, e.g. `/bucket/key?uploads`.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The remote address, e.g. `127.0.0.1:53412` (empty when parsed offline).
    public var peer: String

    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:], peer: String = "") {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.peer = peer
    }

    /// The target's path, without the query.
    public var path: Substring { HTTPTarget.path(of: target) }
    /// The raw query string after `?`, if any.
    public var query: Substring? { HTTPTarget.query(of: target) }
    /// Whether the client wants the connection kept open after this request.
    public var keepAlive: Bool { HTTPTarget.keepAlive(version: version, connection: headers["connection"]) }
    /// `Expect: 100-continue`: the client waits for a 100 before sending the body.
    public var expectsContinue: Bool { headers["expect"]?.lowercased() == "100-continue" }
}

enum HTTPTarget {
    static func path(of target: String) -> Substring {
        if let q = target.firstIndex(of: "?") { return target[..<q] }
        return target[...]
    }

    static func query(of target: String) -> Substring? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: q)...]
    }

    static func keepAlive(version: HTTPVersion, connection: String?) -> Bool {
        let connection = connection?.lowercased() ?? ""
        if version == .http1_0 { return connection.contains("keep-alive") }
        return !connection.contains("close")
    }
}

/// A complete HTTP/1.1 request (body fully read, de-chunked).
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request-target as sent, e.g. `/v1/buckets?limit=10`.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The remote address, e.g. `127.0.0.1:53412` (empty when parsed offline).
    public var peer: String

    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
                body: [UInt8] = [], peer: String = "") {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.peer = peer
    }

    public init(head: HTTPRequestHead, body: [UInt8] = []) {
        self.init(method: head.method, target: head.target, version: head.version, headers: head.headers, body: body, peer: head.peer)
    }

    public var head: HTTPRequestHead {
        HTTPRequestHead(method: method, target: target, version: version, headers: headers, peer: peer)
    }

    /// The target's path, without the query.
    public var path: Substring { HTTPTarget.path(of: target) }
    /// The raw query string after `?`, if any.
    public var query: Substring? { HTTPTarget.query(of: target) }
    /// Whether the client wants the connection kept open after this request.
    public var keepAlive: Bool { HTTPTarget.keepAlive(version: version, connection: headers["connection"]) }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: Array(text.utf8))
    }

    public static func json(_ status: Int, _ json: String) -> HTTPResponse {
        text(status, json, contentType: "application/json")
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 206: "Partial Content"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    /// The wire form: status line, headers (with Content-Length and Connection), body.
    public func serialized(keepAlive: Bool, headRequest: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        out.append(contentsOf: "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n".utf8)
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "connection" || lower == "transfer-encoding" { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        let noBody = status == 204 || status == 304 || (100..<200).contains(status)
        if !noBody { out.append(contentsOf: "content-length: \(body.count)\r\n".utf8) }
        out.append(contentsOf: (keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n").utf8)
        if !noBody && !headRequest { out.append(contentsOf: body) }
        return out
    }
}

/// Serves HTTP/1.1 requests (the gateway's REST face, health and metrics endpoints).
public typealias HTTP1Handler = @Sendable (HTTPRequest) async -> HTTPResponse
