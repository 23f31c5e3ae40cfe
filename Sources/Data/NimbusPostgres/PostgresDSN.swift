/// A PostgreSQL connection string, URL (`postgres://user:pass@host:port/db?sslmode=…`) or
/// libpq key=value form, validated without connecting. Its `description` and every error
/// about it carry the password as `***`.
public struct PostgresDSN: Sendable, Hashable, CustomStringConvertible {
    /// The string as given; only for handing to libpq.
    public let raw: String
    public let user: String?
    public let host: String?
    public let port: Int?
    public let database: String?
    public let hasPassword: Bool
    /// Everything else (sslmode, application_name, …), in order.
    public let parameters: [(key: String, value: String)]

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var redactedDSN: String
        public var problem: String
        public var description: String { "malformed PostgreSQL DSN '\(redactedDSN)': \(problem)" }
    }

    public init(_ raw: String) throws {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw Invalid(redactedDSN: "", problem: "it is empty") }
        self.raw = trimmed
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            (user, host, port, database, hasPassword, parameters) = try Self.parseURL(trimmed)
        } else {
            (user, host, port, database, hasPassword, parameters) = try Self.parseKeyValue(trimmed)
        }
    }

    /// The same server with another user, password and/or database. The overrides are appended
    /// (a later key wins in libpq), so the original's other settings, such as sslmode, carry over.
    public func overriding(user: String? = nil, password: String? = nil, database: String? = nil) -> PostgresDSN {
        var pairs: [(String, String)] = []
        if let user { pairs.append(("user", user)) }
        if let password { pairs.append(("password", password)) }
        if let database { pairs.append(("dbname", database)) }
        var text = raw
        if raw.hasPrefix("postgres://") || raw.hasPrefix("postgresql://") {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            for (key, value) in pairs {
                text += (text.contains("?") ? "&" : "?") + key + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
            }
        } else {
            for (key, value) in pairs {
                let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
                text += " \(key)='\(escaped)'"
            }
        }
        // Both forms re-parse: the overrides are well formed by construction.
        return try! PostgresDSN(text)
    }

    public static func == (lhs: PostgresDSN, rhs: PostgresDSN) -> Bool { lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }

    public var description: String { Self.redact(raw) }

    /// The DSN with any password replaced by `***`, in either syntax. Safe for logs.
    public static func redact(_ dsn: String) -> String {
        if let schemeEnd = dsn.range(of: "://") {
            let afterScheme = dsn[schemeEnd.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            var result = String(dsn[..<schemeEnd.upperBound])
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    result += userInfo[..<colon] + ":***"
                } else {
                    result += userInfo
                }
                result += authority[at...]
            } else {
                result += authority
            }
            var rest = String(afterScheme[authorityEnd...])
            // A password can also travel as a query parameter.
            rest = redactQueryPassword(rest)
            return result + rest
        }
        return redactKeyValuePassword(dsn)
    }

    private static func redactQueryPassword(_ s: String) -> String {
        guard let q = s.firstIndex(of: "?") else { return s }
        let items = s[s.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
            item.lowercased().hasPrefix("password=") ? "password=***" : String(item)
        }
        return String(s[...q]) + items.joined(separator: "&")
    }

    private static func redactKeyValuePassword(_ s: String) -> String {
        // Walk key=value pairs, honouring single quotes, replacing the password's value.
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let start = i
            while i < s.endIndex, s[i] != "=" , !s[i].isWhitespace { i = s.index(after: i) }
            let key = s[start..<i]
            out += key
            guard i < s.endIndex, s[i] == "=" else {
                if i < s.endIndex { out.append(s[i]); i = s.index(after: i) }
                continue
            }
            out += "="
            i = s.index(after: i)
            let valueStart = i
            if i < s.endIndex, s[i] == "'" {
                i = s.index(after: i)
                while i < s.endIndex, s[i] != "'" {
                    if s[i] == "\\" { i = s.index(after: i); if i == s.endIndex { break } }
                    i = s.index(after: i)
                }
                if i < s.endIndex { i = s.index(after: i) }
            } else {
                while i < s.endIndex, !s[i].isWhitespace { i = s.index(after: i) }
            }
            out += key.lowercased() == "password" ? "***" : String(s[valueStart..<i])
        }
        return out
    }

    private typealias Parts = (String?, String?, Int?, String?, Bool, [(key: String, value: String)])

    private static func parseURL(_ s: String) throws -> Parts {
        let invalid = { (problem: String) in Invalid(redactedDSN: redact(s), problem: problem) }
        let afterScheme = s[s.range(of: "://")!.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        var user: String?
        var hasPassword = false
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = String(userInfo[..<colon]).removingPercentEncoding
                hasPassword = true
            } else {
                user = String(userInfo).removingPercentEncoding
            }
        }
        var host: String?
        var port: Int?
        if !hostPort.isEmpty {
            var hostPart = hostPort
            if hostPort.hasPrefix("[") {
                guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unclosed '[' in host") }
                hostPart = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
                let rest = hostPort[hostPort.index(after: close)...]
                if rest.hasPrefix(":") { port = Int(rest.dropFirst()); if port == nil { throw invalid("port is not a number") } }
            } else if let colon = hostPort.lastIndex(of: ":") {
                hostPart = hostPort[..<colon]
                guard let p = Int(hostPort[hostPort.index(after: colon)...]) else { throw invalid("port is not a number") }
                port = p
            }
            host = hostPart.isEmpty ? nil : String(hostPart).removingPercentEncoding
        }
        if let port, !(1...65535).contains(port) { throw invalid("port \(port) is out of range") }
        var rest = afterScheme[authorityEnd...]
        var database: String?
        if rest.hasPrefix("/") {
            let pathEnd = rest.firstIndex(of: "?") ?? rest.endIndex
            let path = rest[rest.index(after: rest.startIndex)..<pathEnd]
            database = path.isEmpty ? nil : String(path).removingPercentEncoding
            rest = rest[pathEnd...]
        }
        var parameters: [(key: String, value: String)] = []
        if rest.hasPrefix("?") {
            for item in rest.dropFirst().split(separator: "&") {
                guard let eq = item.firstIndex(of: "=") else { throw invalid("query item '\(item)' has no '='") }
                let key = String(item[..<eq])
                let value = String(item[item.index(after: eq)...]).removingPercentEncoding ?? ""
                if key == "password" { hasPassword = true; continue }
                if key == "host" { host = value; continue }
                if key == "dbname" { database = value; continue }
                if key == "user" { user = value; continue }
                if key == "port" {
                    guard let p = Int(value), (1...65535).contains(p) else { throw invalid("port '\(value)' is not a port number") }
                    port = p
                    continue
                }
                parameters.append((key, value))
            }
        }
        return (user, host, port, database, hasPassword, parameters)
    }

    private static func parseKeyValue(_ s: String) throws -> Parts {
        let invalid = { (problem: String) in Invalid(redactedDSN: redact(s), problem: problem) }
        var user: String?, host: String?, port: Int?, database: String?, hasPassword = false
        var parameters: [(key: String, value: String)] = []
        var i = s.startIndex
        func skipSpaces() { while i < s.endIndex, s[i].isWhitespace { i = s.index(after: i) } }
        skipSpaces()
        while i < s.endIndex {
            let keyStart = i
            while i < s.endIndex, s[i] != "=", !s[i].isWhitespace { i = s.index(after: i) }
            let key = String(s[keyStart..<i])
            skipSpaces()
            guard i < s.endIndex, s[i] == "=" else { throw invalid("'\(key)' is not followed by '='") }
            i = s.index(after: i)
            skipSpaces()
            var value = ""
            if i < s.endIndex, s[i] == "'" {
                i = s.index(after: i)
                var closed = false
                while i < s.endIndex {
                    if s[i] == "\\" {
                        i = s.index(after: i)
                        if i < s.endIndex { value.append(s[i]); i = s.index(after: i) }
                        continue
                    }
                    if s[i] == "'" { closed = true; i = s.index(after: i); break }
                    value.append(s[i]); i = s.index(after: i)
                }
                if !closed { throw invalid("unterminated quoted value for '\(key)'") }
            } else {
                while i < s.endIndex, !s[i].isWhitespace { value.append(s[i]); i = s.index(after: i) }
            }
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0 == "_" }) else { throw invalid("'\(key)' is not a parameter name") }
            switch key {
            case "user": user = value
            case "host": host = value
            case "port":
                guard let p = Int(value), (1...65535).contains(p) else { throw invalid("port '\(value)' is not a port number") }
                port = p
            case "dbname": database = value
            case "password": hasPassword = true
            default: parameters.append((key, value))
            }
            skipSpaces()
        }
        return (user, host, port, database, hasPassword, parameters)
    }
}

import Foundation
