/// One address a channel can connect to.
public struct ClientEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port`, `[v6]:port`.
    public init(parsing text: String) throws(ClientConfigurationError) {
        let text = text.clientTrimmed
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .invalidEndpoint(text, "expected [address]:port")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .invalidEndpoint(text, "expected host:port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .invalidEndpoint(text, "an IPv6 address needs brackets: [address]:port") }
        }
        guard !host.isEmpty else { throw .invalidEndpoint(text, "the host is empty") }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw .invalidEndpoint(text, "the port must be a number from 1 to 65535")
        }
        self.init(host: String(host), port: port)
    }

    /// Parses a comma-separated list, e.g. `10.0.0.5:7001,10.0.0.6:7001`.
    public static func parseList(_ text: String) throws(ClientConfigurationError) -> [ClientEndpoint] {
        let parts = text.split(separator: ",").map { String($0).clientTrimmed }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw .invalidEndpoint(text, "no endpoint given") }
        var endpoints: [ClientEndpoint] = []
        for part in parts { endpoints.append(try ClientEndpoint(parsing: part)) }
        return endpoints
    }
}

public enum ClientConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidEndpoint(String, String)
    case invalid(String)
    case tls(String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let text, let why): "invalid endpoint '\(text)': \(why)"
        case .invalid(let why): "invalid channel configuration: \(why)"
        case .tls(let why): "TLS configuration: \(why)"
        }
    }
}

extension String {
    var clientTrimmed: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
