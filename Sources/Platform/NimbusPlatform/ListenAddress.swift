/// A `host:port` to listen on or connect to, validated without resolving anything.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces).
    public init(parsing text: String, setting: String) throws {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ConfigError(setting: setting, problem: "'\(text)' is not host:port")
            }
            portPart = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        } else {
            throw ConfigError(setting: setting, problem: "'\(text)' is not host:port")
        }
        if hostPart.isEmpty { hostPart = "0.0.0.0" }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ConfigError(setting: setting, problem: "'\(portPart)' in '\(text)' is not a port number")
        }
        guard hostPart.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            throw ConfigError(setting: setting, problem: "'\(hostPart)' is not a host name or address")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
