/// A gRPC length-prefixed message violated the protocol or a limit.
public struct GRPCFramingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The 5-byte prefix announced more than the configured limit.
        case messageTooLarge(size: Int, limit: Int)
        /// The compressed flag was set but no compression was negotiated.
        case compressedMessage
        /// The flag byte was neither 0 nor 1.
        case invalidFlag(UInt8)
        /// The stream ended inside a message.
        case truncated(missing: Int)
        /// A compressed message did not inflate.
        case decompressionFailed(String)
    }
    public var kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .messageTooLarge(let size, let limit): "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .compressedMessage: "compressed message received but no grpc-encoding was negotiated"
        case .invalidFlag(let flag): "invalid message flag \(flag)"
        case .truncated(let missing): "stream ended \(missing) bytes short of a complete message"
        case .decompressionFailed(let reason): "compressed message could not be decompressed: \(reason)"
        }
    }
}

/// Writes gRPC length-prefixed messages: flag byte (0 = uncompressed), 4-byte big-endian length.
public enum GRPCMessageFramer {
    public static let prefixLength = 5

    /// Appends one framed message to `buffer`.
    @inlinable
    public static func append(_ message: [UInt8], to buffer: inout [UInt8]) {
        let length = UInt32(truncatingIfNeeded: message.count)
        buffer.reserveCapacity(buffer.count + 5 + message.count)
        buffer.append(0)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
        buffer.append(contentsOf: message)
    }

    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var buffer: [UInt8] = []
        append(message, to: &buffer)
        return buffer
    }
}

/// Reassembles gRPC messages from bytes split across DATA frames in any way. The size limit is
/// checked on the 5-byte prefix, before any of the message is buffered, and again on what a
/// compressed message inflates to.
public struct GRPCMessageDeframer: Sendable {
    public let maxMessageSize: Int
    /// The peer's `grpc-encoding`: messages flagged compressed are inflated with it. Without
    /// one, a compressed flag is a protocol error.
    public var decompression: GRPCMessageEncoding?
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Length of the message whose prefix has been read, if any.
    private var pendingLength: Int?
    /// Whether that message is flagged compressed.
    private var pendingCompressed = false

    public init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// True when bytes of an incomplete message (or prefix) are held.
    public var hasPartialMessage: Bool { pendingLength != nil || readIndex < buffer.count }
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfNeeded()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        compactIfNeeded()
        buffer.append(contentsOf: bytes)
    }

    /// Appends `bytes` and hands every message completed by them to `deliver`. When nothing
    /// is buffered, whole messages are sliced straight from `bytes` (no intermediate copy).
    public mutating func process(_ bytes: UnsafeRawBufferPointer, _ deliver: ([UInt8]) -> Void) throws(GRPCFramingError) {
        var rest = bytes[...]
        if pendingLength == nil && readIndex == buffer.count {
            while rest.count >= 5 {
                let flag = rest[rest.startIndex]
                try checkFlag(flag)
                let i = rest.startIndex
                let length = Int(rest[i + 1]) << 24 | Int(rest[i + 2]) << 16 | Int(rest[i + 3]) << 8 | Int(rest[i + 4])
                if length > maxMessageSize {
                    throw GRPCFramingError(.messageTooLarge(size: length, limit: maxMessageSize))
                }
                guard rest.count - 5 >= length else { break }
                if flag == 1 {
                    deliver(try inflate(ArraySlice(rest[(i + 5)..<(i + 5 + length)])))
                } else {
                    deliver(Array(rest[(i + 5)..<(i + 5 + length)]))
                }
                rest = rest[(i + 5 + length)...]
            }
            if rest.isEmpty { return }
        }
        append(UnsafeRawBufferPointer(rebasing: rest))
        while let message = try next() { deliver(message) }
    }

    /// The next complete message, nil when more bytes are needed; throws on a protocol
    /// violation or an over-limit size (after which the deframer must not be used).
    public mutating func next() throws(GRPCFramingError) -> [UInt8]? {
        if pendingLength == nil {
            guard buffer.count - readIndex >= 5 else { return nil }
            let flag = buffer[readIndex]
            try checkFlag(flag)
            pendingCompressed = flag == 1
            let length = Int(buffer[readIndex + 1]) << 24 | Int(buffer[readIndex + 2]) << 16
                | Int(buffer[readIndex + 3]) << 8 | Int(buffer[readIndex + 4])
            if length > maxMessageSize {
                throw GRPCFramingError(.messageTooLarge(size: length, limit: maxMessageSize))
            }
            readIndex += 5
            pendingLength = length
        }
        let length = pendingLength!
        guard buffer.count - readIndex >= length else { return nil }
        let message = pendingCompressed
            ? try inflate(buffer[readIndex..<readIndex + length]) : Array(buffer[readIndex..<readIndex + length])
        readIndex += length
        pendingLength = nil
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            readIndex = 0
        }
        return message
    }

    /// Call at end of stream: throws if a message was cut off.
    public func finish() throws(GRPCFramingError) {
        guard hasPartialMessage else { return }
        let missing = (pendingLength ?? 5) - (buffer.count - readIndex)
        throw GRPCFramingError(.truncated(missing: max(missing, 1)))
    }

    private func checkFlag(_ flag: UInt8) throws(GRPCFramingError) {
        if flag == 0 { return }
        if flag == 1 {
            if decompression == nil { throw GRPCFramingError(.compressedMessage) }
            return
        }
        throw GRPCFramingError(.invalidFlag(flag))
    }

    private func inflate(_ compressed: ArraySlice<UInt8>) throws(GRPCFramingError) -> [UInt8] {
        try decompression!.decompress(compressed, limit: maxMessageSize)
    }

    private mutating func compactIfNeeded() {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}
