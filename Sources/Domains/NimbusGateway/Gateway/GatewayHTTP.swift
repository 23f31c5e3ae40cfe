/// A REST request as the gateway sees it (the HTTP/1.1 server adapts its own type to this).
public struct GatewayHTTPRequest: Sendable {
    public var method: String
    /// Request target as sent: path and optional query.
    public var target: String
    /// Header fields; names compared case-insensitively.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// `ip:port` of the client.
    public var peer: String

    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [], peer: String = "") {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.peer = peer
    }

    public func header(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }

    public var path: String {
        target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
    }

    public var query: String? {
        target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) }
    }
}

public struct GatewayHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
    }
}

/// Header names compare without case; byte-wise, so no lowercased copies per lookup.
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    return zip(a.utf8, b.utf8).allSatisfy { x, y in
        x == y || ((x | 0x20) == (y | 0x20) && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A)
    }
}
