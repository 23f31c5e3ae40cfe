import CNimbusShims
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A failed system call: which call, and the `errno` it left.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Every syscall NimbusHTTP makes goes through here once: EINTR is retried, EAGAIN/EWOULDBLOCK
/// becomes `nil` (the caller waits for readiness), anything else throws with errno and the name.
package enum SystemCall {
    @inline(__always)
    package static func retrying<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws -> T? {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = Glibc.errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EWOULDBLOCK { return nil }
            throw SocketError(call: name, errno: error)
        }
    }

    /// For calls where EAGAIN is not an expected outcome.
    @inline(__always)
    package static func must<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = Glibc.errno
            if error == EINTR { continue }
            throw SocketError(call: name, errno: error)
        }
    }

    package static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try retrying("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    package static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws -> Int? {
        try retrying("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    package static func close(_ fd: Int32) {
        // EINTR on close on Linux still closes the fd; never retry.
        _ = Glibc.close(fd)
    }

    package static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        _ = try must("setsockopt") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}

extension String {
    /// A NUL-terminated C buffer as a String.
    package init(cBuffer buffer: [CChar]) {
        self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
