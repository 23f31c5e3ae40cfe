/// `http://host:port` (h2c), `https://host:port` (TLS) or `host:port`.
struct GatewayEndpoint: Equatable {
    var host: String
    var port: Int
    var tls: Bool

    init(parsing text: String) throws {
        var rest = Substring(text)
        var tls = false
        if rest.hasPrefix("https://") {
            tls = true
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.contains("://") {
            throw CLIError.configuration("endpoint \(text) must start with http:// or https://")
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw CLIError.configuration("endpoint \(text): unbalanced [") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : nil
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = nil
        }
        guard !host.isEmpty, !host.contains("/") else { throw CLIError.configuration("endpoint \(text) has no host") }
        let port = portText.map { Int($0) } ?? (tls ? 443 : 80)
        guard let port, (1...65535).contains(port) else { throw CLIError.configuration("endpoint \(text) has an invalid port") }
        self.host = String(host)
        self.port = port
        self.tls = tls
    }

    var hostPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
