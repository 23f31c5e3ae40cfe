import CNimbusShims
import NimbusEventLoop
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    let isIPv6: Bool

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

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
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
        if Int32(storage.ss_family) == AF_INET6 {
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
