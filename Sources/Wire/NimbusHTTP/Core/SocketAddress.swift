import CNimbusShims
import NimbusEventLoop
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An IPv4 or IPv6 socket address, or a Unix-domain socket path (same-host upstreams: no
/// TCP/IP stack on the way).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    let isIPv6: Bool
    /// Set for a Unix-domain socket (`host` is then the path, `port` 0).
    public private(set) var unixPath: String?

    /// A Unix-domain socket at `path` (at most 107 bytes).
    public static func unix(_ path: String) throws -> SocketAddress {
        guard !path.isEmpty, path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SocketError(call: "unix socket path \(path) (empty or too long)", errno: EINVAL)
        }
        var address = SocketAddress(host: path, port: 0, isIPv6: false)
        address.unixPath = path
        return address
    }

    /// `unix:/path` or `host:port` (the last colon splits; `[v6]:port` works too).
    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            self = try .unix(String(text.dropFirst(5)))
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw SocketError(call: "parse address \(text) (want host:port or unix:/path)", errno: EINVAL)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        try self.init(host: host, port: port)
    }

    var family: Int32 { unixPath != nil ? AF_UNIX : isIPv6 ? AF_INET6 : AF_INET }

    /// Resolves `host` (an IP literal, `localhost`, or a name via getaddrinfo — which blocks, so
    /// call it before entering a loop, not on one).
    public init(host: String, port: Int) throws {
        guard (0...65535).contains(port) else {
            throw SocketError(call: "resolve \(host):\(port) (port out of range)", errno: EINVAL)
        }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            self.init(host: host, port: port, isIPv6: false)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            self.init(host: host, port: port, isIPv6: true)
        } else if host == "localhost" {
            self.init(host: "127.0.0.1", port: port, isIPv6: false)
        } else {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, nil, &hints, &result)
            guard rc == 0, let info = result else {
                throw SocketError(call: "getaddrinfo(\(host))", errno: EINVAL)
            }
            defer { freeaddrinfo(result) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            if info.pointee.ai_family == AF_INET6 {
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var a = $0.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
                }
                self.init(host: String(cBuffer: buffer), port: port, isIPv6: true)
            } else {
                info.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    var a = $0.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
                }
                self.init(host: String(cBuffer: buffer), port: port, isIPv6: false)
            }
        }
    }

    init(host: String, port: Int, isIPv6: Bool) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    public var description: String {
        if let unixPath { return "unix:\(unixPath)" }
        return isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        if let unixPath {
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &a.sun_path) { raw in
                for (i, byte) in unixPath.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
            }
            return try withUnsafePointer(to: &a) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        if isIPv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = UInt16(port).bigEndian
            _ = inet_pton(AF_INET6, host, &a.sin6_addr)
            return try withUnsafePointer(to: &a) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        _ = inet_pton(AF_INET, host, &a.sin_addr)
        return try withUnsafePointer(to: &a) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Decodes a `sockaddr_storage` filled by the kernel.
    init(storage: sockaddr_storage) {
        var storage = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(storage.ss_family) == AF_UNIX {
            // Accepted peers of a Unix socket are unnamed: describe them by the family.
            self.init(host: "unix", port: 0, isIPv6: false)
        } else if Int32(storage.ss_family) == AF_INET6 {
            let (host, port) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> (String, Int) in
                    var a = p.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count))
                    return (String(cBuffer: buffer), Int(UInt16(bigEndian: p.pointee.sin6_port)))
                }
            }
            self.init(host: host, port: port, isIPv6: true)
        } else {
            let (host, port) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p -> (String, Int) in
                    var a = p.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count))
                    return (String(cBuffer: buffer), Int(UInt16(bigEndian: p.pointee.sin_port)))
                }
            }
            self.init(host: host, port: port, isIPv6: false)
        }
    }
}
