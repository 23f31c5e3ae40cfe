import Logging
import Metrics
/// A request body as chunks, read by one task: the transport's streaming body, a buffered
/// one, or a decoded `aws-chunked` payload.
public final class ByteSource: @unchecked Sendable {  // consumed by one task at a time
    /// Content-Length (of the decoded payload), when known.
    public let expectedLength: Int64?
    private let nextChunk: () async throws -> ArraySlice<UInt8>?
    /// Trailing headers (`aws-chunked` checksum trailers), known once the body has been read.
    public let trailers: () -> [String: String]

    public init(expectedLength: Int64?, trailers: @escaping () -> [String: String] = { [:] },
                next: @escaping () async throws -> ArraySlice<UInt8>?) {
        self.expectedLength = expectedLength
        self.trailers = trailers
        self.nextChunk = next
    }

    public convenience init(bytes: [UInt8]) {
        var pending: [UInt8]? = bytes
        self.init(expectedLength: Int64(bytes.count)) {
            defer { pending = nil }
            guard let chunk = pending, !chunk.isEmpty else { return nil }
            return chunk[...]
        }
    }

    /// The next chunk, nil at the end.
    public func next() async throws -> ArraySlice<UInt8>? { try await nextChunk() }

    /// Reads everything, refusing more than `limit` bytes.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var out: [UInt8] = []
        while let chunk = try await next() {
            guard out.count + chunk.count <= limit else { throw S3Error.entityTooLarge }
            out += chunk
        }
        return out
    }
}
