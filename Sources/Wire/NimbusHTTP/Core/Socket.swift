import CNimbusShims
import NimbusEventLoop
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a non-blocking read produced.
public enum ReadResult: Sendable, Equatable {
    case bytes(Int)
    /// Nothing to read now; wait for readability (or writability, for TLS renegotiation).
    case wouldBlock(wantsWrite: Bool)
    /// The peer closed its side.
    case eof
}

/// A non-blocking TCP socket. A plain value holding the fd: whoever owns it calls `close()`
/// once. Every syscall goes through `SystemCall` (EINTR retried, errors carry errno).
public struct Socket: Sendable, Hashable {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    /// A listening socket bound to `address`. `reusePort` lets one listener per event loop
    /// share the port (the kernel spreads connections across them).
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = false) throws -> Socket {
        let fd = try SystemCall.must("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let socket = Socket(fd: fd)
        do {
            if let path = address.unixPath { unlink(path) }  // a stale socket file from an earlier run
            try SystemCall.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort && address.unixPath == nil { try SystemCall.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            _ = try address.withSockAddr { addr, len in try SystemCall.must("bind(\(address))") { bind(fd, addr, len) } }
            _ = try SystemCall.must("listen") { Glibc.listen(fd, backlog) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Starts a non-blocking connect. `connected` is false while it is in progress: wait for
    /// writability, then check `pendingError()`.
    public static func connect(to address: SocketAddress) throws -> (socket: Socket, connected: Bool) {
        let fd = try SystemCall.must("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let socket = Socket(fd: fd)
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return (socket, true) }
            let error = Glibc.errno
            if error == EINTR { continue }
            if error == EINPROGRESS { return (socket, false) }
            socket.close()
            throw SocketError(call: "connect(\(address))", errno: error)
        }
    }

    /// Accepts one pending connection (non-blocking, close-on-exec); nil when none is pending.
    public func accept() throws -> (socket: Socket, peer: SocketAddress)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd: Int32? = try withUnsafeMutablePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                do {
                    return try SystemCall.retrying("accept4") {
                        CNimbusShims_accept4(self.fd, addr, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                    }
                } catch let error as SocketError where error.errno == ECONNABORTED || error.errno == EPROTO {
                    return nil  // the peer gave up before we accepted; not our failure
                }
            }
        }
        guard let fd else { return nil }
        return (Socket(fd: fd), SocketAddress(storage: storage))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadResult {
        guard let n = try SystemCall.read(fd, buffer) else { return .wouldBlock(wantsWrite: false) }
        return n == 0 ? .eof : .bytes(n)
    }

    /// Writes what the kernel takes now; nil when the socket buffer is full.
    public func write(_ buffer: UnsafeRawBufferPointer) throws -> Int? {
        try SystemCall.write(fd, buffer)
    }

    /// TCP_NODELAY; nothing to do on a Unix-domain socket.
    public func setNoDelay() throws {
        do {
            try SystemCall.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        } catch let error as SocketError where error.errno == EOPNOTSUPP || error.errno == ENOPROTOOPT {
            return
        }
    }

    /// SO_ERROR: the outcome of a non-blocking connect (0 = connected).
    public func pendingError() -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return Glibc.errno }
        return value
    }

    public func localAddress() throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                try SystemCall.must("getsockname") { getsockname(fd, addr, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }

    public func peerAddress() throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                try SystemCall.must("getpeername") { getpeername(fd, addr, &length) }
            }
        }
        return SocketAddress(storage: storage)
    }

    /// Half-closes the sending side (FIN) while reads continue.
    public func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    public func close() { SystemCall.close(fd) }
}
