/// A response's status line and header fields.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var version: HTTPVersion
    public var headers: HTTPHeaders

    /// Whether the server keeps the connection open after this response.
    public var keepAlive: Bool { HTTPTarget.keepAlive(version: version, connection: headers["connection"]) }
}

/// An incremental HTTP/1.1 response parser for the client (RFC 9112 §6.3 body length:
/// none for HEAD/1xx/204/304, chunked, Content-Length, else until the connection closes).
/// Events as for requests: head (interim 1xx heads are skipped), body pieces, end.
struct HTTP1ResponseParser: Sendable {
    enum Event: Sendable {
        /// `expectedLength`: Content-Length (0: no body), nil when chunked or close-delimited.
        case head(HTTPResponseHead, expectedLength: Int?)
        case body(ArraySlice<UInt8>)
        case end
    }

    private enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case end
    }

    static let maxHeadBytes = 64 << 10
    private var buffer: [UInt8] = []
    private var start = 0
    private var state = State.head
    /// Set before each request: a HEAD response has no body whatever its headers say.
    var requestWasHead = false

    var bufferedByteCount: Int { buffer.count - start }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The peer closed: ends a close-delimited body; anywhere else mid-response is an error.
    mutating func finishInput() throws(HTTP1ParseError) -> Event? {
        switch state {
        case .untilClose:
            state = .head
            return .end
        case .head where bufferedByteCount == 0:
            return nil
        default:
            throw HTTP1ParseError(502, "upstream closed the connection mid-response")
        }
    }

    mutating func nextEvent() throws(HTTP1ParseError) -> Event? {
        while true {
            switch state {
            case .end:
                state = .head
                return .end
            case .head:
                guard let (head, framing) = try parseHead() else { return nil }
                if (100..<200).contains(head.status) && head.status != 101 { continue }  // interim
                state = framing
                switch framing {
                case .end: return .head(head, expectedLength: 0)
                case .fixed(let n): return .head(head, expectedLength: n)
                default: return .head(head, expectedLength: nil)
                }
            case .fixed(let remaining):
                let n = min(remaining, bufferedByteCount)
                guard n > 0 else { return nil }
                defer { start += n }
                state = n == remaining ? .end : .fixed(remaining: remaining - n)
                return .body(buffer[start..<start + n])
            case .untilClose:
                let n = bufferedByteCount
                guard n > 0 else { return nil }
                defer { start += n }
                return .body(buffer[start..<start + n])
            case .chunkSize:
                guard let line = try takeLine() else { return nil }
                var digits = line
                if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) { digits = line[line.startIndex..<semicolon] }
                while let c = digits.last, c == 32 || c == 9 { digits = digits.dropLast() }
                guard !digits.isEmpty, digits.count <= 15, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw HTTP1ParseError(502, "invalid chunk size from upstream")
                }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, bufferedByteCount)
                guard n > 0 else { return nil }
                defer { start += n }
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
                return .body(buffer[start..<start + n])
            case .chunkDataEnd:
                guard let line = try takeLine() else { return nil }
                guard line.isEmpty else { throw HTTP1ParseError(502, "chunk data not followed by CRLF") }
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine() else { return nil }
                if line.isEmpty { state = .end }
            }
        }
    }

    private mutating func takeLine() throws(HTTP1ParseError) -> ArraySlice<UInt8>? {
        var i = start
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 {
                defer { start = i + 2 }
                return buffer[start..<i]
            }
            i += 1
        }
        if bufferedByteCount > Self.maxHeadBytes { throw HTTP1ParseError(502, "upstream response line too long") }
        return nil
    }

    private mutating func parseHead() throws(HTTP1ParseError) -> (HTTPResponseHead, State)? {
        // Find the blank line first so a partial head is not consumed.
        var i = start, end: Int?
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { end = i + 4; break }
            i += 1
        }
        guard end != nil else {
            if bufferedByteCount > Self.maxHeadBytes { throw HTTP1ParseError(502, "upstream response head too large") }
            return nil
        }
        let statusLine = String(decoding: try takeLine()!, as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[0].count == 8, let status = Int(parts[1]),
              (100...999).contains(status) else {
            throw HTTP1ParseError(502, "malformed status line from upstream")
        }
        let version: HTTPVersion = parts[0] == "HTTP/1.0" ? .http1_0 : .http1_1
        var headers = HTTPHeaders()
        while let line = try takeLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw HTTP1ParseError(502, "malformed header line from upstream")
            }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            headers.add(name, String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces)
        }
        let head = HTTPResponseHead(status: status, version: version, headers: headers)
        if requestWasHead || status == 204 || status == 304 || (100..<200).contains(status) { return (head, .end) }
        if let coding = headers["transfer-encoding"] {
            guard coding.lowercased().hasSuffix("chunked") else { return (head, .untilClose) }
            return (head, .chunkSize)
        }
        if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText.trimmingSpaces), length >= 0 else {
                throw HTTP1ParseError(502, "invalid Content-Length from upstream")
            }
            return (head, length == 0 ? .end : .fixed(remaining: length))
        }
        return (head, .untilClose)
    }
}
