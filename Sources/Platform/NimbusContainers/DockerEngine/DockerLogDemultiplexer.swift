import Foundation

/// Splits the engine's multiplexed log stream (containers without a TTY) into stdout and
/// stderr chunks. Each frame is an 8-byte header — stream (1 stdout, 2 stderr), three zero
/// bytes, the payload length as big-endian UInt32 — then the payload. Frames arrive split
/// across reads in any way, so this buffers partial ones. A pure value: feed bytes, get chunks.
struct DockerLogDemultiplexer: Sendable {
    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    private var buffer = Data()

    /// Chunks completed by `bytes`; throws when the bytes are not a multiplexed stream.
    mutating func feed(_ bytes: Data) throws -> [LogChunk] {
        buffer.append(bytes)
        var chunks: [LogChunk] = []
        var offset = buffer.startIndex
        while buffer.endIndex - offset >= 8 {
            let streamByte = buffer[offset]
            let stream: LogStream
            switch streamByte {
            case 0, 1: stream = .stdout  // 0 is stdin, echoed only with a TTY; count it as output
            case 2: stream = .stderr
            default: throw FormatError(description: "unexpected log frame stream byte \(streamByte)")
            }
            let length = buffer[(offset + 4)..<(offset + 8)].reduce(0) { ($0 << 8) | Int($1) }
            guard buffer.endIndex - offset - 8 >= length else { break }
            let payloadStart = offset + 8
            if length > 0 {
                chunks.append(LogChunk(stream: stream, data: Data(buffer[payloadStart..<(payloadStart + length)])))
            }
            offset = payloadStart + length
        }
        buffer.removeSubrange(buffer.startIndex..<offset)
        return chunks
    }

    /// Bytes of an unfinished frame (non-zero when the stream ended mid-frame).
    var pendingByteCount: Int { buffer.count }
}
