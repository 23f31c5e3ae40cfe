import CNGHTTP2

/// One header field as it goes on the wire (lowercase name).
public struct HTTP2ClientHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// A constant String for a value nearly every gRPC response carries and that is too long
    /// for Swift's inline small strings (`application/grpc`): no allocation per response.
    static func internedValue(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.count == 16, bytes.elementsEqual(grpcContentType.utf8) else { return nil }
        return grpcContentType
    }

    private static let grpcContentType = "application/grpc"
}

/// What an `HTTP2ClientSession` saw while reading or writing.
public enum HTTP2ClientEvent: Sendable, Equatable {
    /// A complete HEADERS block (response headers, or trailers when it is the second one).
    case headers(streamID: Int32, fields: [HTTP2ClientHeader], endStream: Bool)
    /// A chunk of response body; hand it back with `consume` once the application took it.
    case data(streamID: Int32, bytes: [UInt8])
    /// The peer's DATA frame carried END_STREAM (trailers arrive as `.headers(endStream: true)`).
    case endOfData(streamID: Int32)
    /// The stream is gone: `errorCode` is NO_ERROR after a clean end, else the RST_STREAM or
    /// GOAWAY reason (REFUSED_STREAM means the server never processed it — safe to retry).
    case closed(streamID: Int32, errorCode: HTTP2ClientErrorCode)
    /// The peer is going away: streams above `lastStreamID` were not processed.
    case goAway(lastStreamID: Int32, errorCode: HTTP2ClientErrorCode)
    /// The request body queue of the stream dropped below the low-water mark.
    case writable(streamID: Int32)
    case settings
    case pingAck
}

/// An HTTP/2 error code (RFC 9113 §7).
public struct HTTP2ClientErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noError = HTTP2ClientErrorCode(rawValue: NGHTTP2_NO_ERROR.rawValue)
    public static let protocolError = HTTP2ClientErrorCode(rawValue: NGHTTP2_PROTOCOL_ERROR.rawValue)
    public static let internalError = HTTP2ClientErrorCode(rawValue: NGHTTP2_INTERNAL_ERROR.rawValue)
    public static let flowControlError = HTTP2ClientErrorCode(rawValue: NGHTTP2_FLOW_CONTROL_ERROR.rawValue)
    public static let refusedStream = HTTP2ClientErrorCode(rawValue: NGHTTP2_REFUSED_STREAM.rawValue)
    public static let cancel = HTTP2ClientErrorCode(rawValue: NGHTTP2_CANCEL.rawValue)
    public static let enhanceYourCalm = HTTP2ClientErrorCode(rawValue: NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
    public static let inadequateSecurity = HTTP2ClientErrorCode(rawValue: NGHTTP2_INADEQUATE_SECURITY.rawValue)

    public var description: String { String(cString: nghttp2_http2_strerror(rawValue)) }
}

public enum HTTP2ClientError: Error, Sendable, CustomStringConvertible {
    case sessionSetup(String)
    case sessionClosed
    case submitFailed(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .sessionSetup(let what): "HTTP/2 session setup failed: \(what)"
        case .sessionClosed: "HTTP/2 session is closed"
        case .submitFailed(let what): "HTTP/2 request not submitted: \(what)"
        case .protocolError(let what): "HTTP/2 protocol error: \(what)"
        }
    }
}

/// A FIFO of byte chunks read out in pieces by the nghttp2 data provider.
struct HTTP2ClientOutboundQueue {
    /// The first chunk lives here, outside `chunks`: a unary request body (one chunk) needs
    /// no array of chunks.
    private var first: [UInt8] = []
    private var firstOffset = 0
    private var chunks: [[UInt8]] = []
    private var head = 0          // index of the first live chunk
    private var headOffset = 0    // bytes of chunks[head] already sent
    private(set) var count = 0
    var ended = false

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if count == 0 {
            first = bytes
            firstOffset = 0
        } else {
            chunks.append(bytes)
        }
        count += bytes.count
    }

    /// Copies up to `capacity` bytes into `destination`; returns how many.
    mutating func read(into destination: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        var written = 0
        if firstOffset < first.count {
            written = first.withUnsafeBufferPointer { chunk -> Int in
                let n = min(capacity, chunk.count - firstOffset)
                destination.update(from: chunk.baseAddress! + firstOffset, count: n)
                return n
            }
            firstOffset += written
            if firstOffset == first.count {
                first = []
                firstOffset = 0
            }
        }
        while written < capacity, head < chunks.count {
            let n = chunks[head].withUnsafeBufferPointer { chunk -> Int in
                let n = min(capacity - written, chunk.count - headOffset)
                (destination + written).update(from: chunk.baseAddress! + headOffset, count: n)
                return n
            }
            written += n
            headOffset += n
            if headOffset == chunks[head].count {
                chunks[head] = []
                head += 1
                headOffset = 0
            }
        }
        count -= written
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
        return written
    }
}
