/// A connected socket, plain or wrapped in TLS: the one read/write surface HTTP/1.1 and
/// HTTP/2 code (server and client) uses. Loop-confined.
public final class ByteStream {
    public let socket: Socket
    public let tls: TLSConnection?
    public private(set) var isClosed = false

    public init(socket: Socket, tls: TLSConnection?) {
        self.socket = socket
        self.tls = tls
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadResult {
        if let tls { return try tls.read(into: buffer) }
        return try socket.read(into: buffer)
    }

    /// Writes what the transport takes now; nil when it would block.
    public func write(_ buffer: UnsafeRawBufferPointer) throws -> Int? {
        if let tls { return try tls.write(buffer) }
        return try socket.write(buffer)
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        tls?.shutdown()
        socket.close()
    }
}

/// Bytes waiting to be written, kept in one contiguous buffer so a whole tick's output leaves
/// in one `write` (the spike measured one write per nghttp2 chunk at 100x slower).
public struct OutboundBuffer {
    public private(set) var bytes: [UInt8] = []
    private var offset = 0

    public init(capacity: Int = 64 << 10) { bytes.reserveCapacity(capacity) }

    public var pendingCount: Int { bytes.count - offset }
    public var isEmpty: Bool { offset == bytes.count }

    public mutating func append(_ buffer: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: buffer)
    }

    public mutating func append<C: Collection>(contentsOf collection: C) where C.Element == UInt8 {
        bytes.append(contentsOf: collection)
    }

    /// Writes as much as the stream takes. Returns true when everything went out.
    public mutating func flush(to stream: ByteStream) throws -> Bool {
        while offset < bytes.count {
            let written = try bytes.withUnsafeBytes { all in
                try stream.write(UnsafeRawBufferPointer(rebasing: all[offset...]))
            }
            guard let written, written > 0 else { return false }
            offset += written
        }
        bytes.removeAll(keepingCapacity: true)
        offset = 0
        return true
    }
}
