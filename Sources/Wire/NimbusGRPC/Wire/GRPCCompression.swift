import CZlib

/// A `grpc-encoding` a peer may compress messages with (the gRPC compression spec's gzip and
/// deflate; identity is the absence of one).
public enum GRPCMessageEncoding: String, Sendable, CaseIterable {
    case gzip
    case deflate

    /// The encoding a `grpc-encoding` header names; nil for identity (or no header); a failure
    /// for anything else, which the server answers with UNIMPLEMENTED.
    public static func parse(_ header: String?) -> Result<GRPCMessageEncoding?, UnsupportedEncoding> {
        guard let header, header != "identity" else { return .success(nil) }
        guard let encoding = GRPCMessageEncoding(rawValue: header) else { return .failure(UnsupportedEncoding(name: header)) }
        return .success(encoding)
    }

    /// What a server answers in `grpc-accept-encoding`.
    public static let acceptHeader = "gzip,deflate,identity"

    public struct UnsupportedEncoding: Error, Sendable {
        public var name: String
    }

    /// zlib's window bits: gzip framing (RFC 1952) or the zlib framing gRPC calls deflate (RFC 1950).
    var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }

    /// Inflates one message. Stops as soon as the output passes `limit`: the limit applies to
    /// what the message decompresses to, so a small compressed message cannot expand into a
    /// large allocation.
    public func decompress(_ input: ArraySlice<UInt8>, limit: Int) throws(GRPCFramingError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GRPCFramingError(.decompressionFailed("zlib could not start"))
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(input.count * 4, 256)))
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        let result: Int32 = input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = UInt32(source.count)
            return chunk.withUnsafeMutableBufferPointer { scratch in
                while true {
                    stream.next_out = scratch.baseAddress
                    stream.avail_out = UInt32(scratch.count)
                    let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = scratch.count - Int(stream.avail_out)
                    if output.count + produced > limit { return Z_MEM_ERROR }
                    output.append(contentsOf: scratch[0..<produced])
                    switch rc {
                    case Z_STREAM_END: return stream.avail_in == 0 ? Z_STREAM_END : Z_DATA_ERROR
                    case Z_OK: continue
                    case Z_BUF_ERROR where produced > 0: continue
                    case Z_BUF_ERROR: return Z_BUF_ERROR  // input ended inside the stream
                    default: return rc
                    }
                }
            }
        }
        switch result {
        case Z_STREAM_END:
            return output
        case Z_MEM_ERROR:
            throw GRPCFramingError(.messageTooLarge(size: output.count + 1, limit: limit))
        case Z_BUF_ERROR:
            throw GRPCFramingError(.decompressionFailed("the \(rawValue) data ends early"))
        default:
            throw GRPCFramingError(.decompressionFailed("the message is not valid \(rawValue) data"))
        }
    }

    /// Compresses one message (for tests and clients that choose to compress).
    public func compress(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK, "zlib deflateInit2")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        let written: Int = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                precondition(CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END, "zlib deflate with a bound-sized buffer")
                return target.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(written...)
        return output
    }
}
