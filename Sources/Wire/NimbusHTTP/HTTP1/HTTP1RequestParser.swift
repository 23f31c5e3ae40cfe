/// Size limits for HTTP/1.1 requests.
public struct HTTP1Limits: Sendable {
    public var maxRequestLineBytes = 8 << 10
    /// Request line plus all header lines (and chunked trailers).
    public var maxHeaderBytes = 32 << 10
    public var maxHeaderCount = 100
    public var maxBodyBytes = 8 << 20

    public init() {}
}

/// Why a request was refused; `status` is the 4xx/5xx to answer with before closing.
public struct HTTP1ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }
    public var description: String { "\(status): \(reason)" }
}

/// One step of a request as the parser sees it: the head, then body bytes as they arrive
/// (de-chunked), then the end. A request without a body is `.head` then `.end`.
public enum HTTP1RequestEvent: Sendable {
    /// `expectedLength`: Content-Length (0 when there is no body), nil when chunked.
    case head(HTTPRequestHead, expectedLength: Int?)
    case body(ArraySlice<UInt8>)
    case end
}

/// A small strict incremental HTTP/1.1 request parser (RFC 9112): CRLF line endings only, no
/// obsolete line folding, token-only methods and header names, one unambiguous body length
/// (Content-Length or chunked, never both), limits on every size. Feed bytes with `append`;
/// take events (head, body pieces, end) with `nextEvent()` — the streaming server does — or
/// whole buffered requests with `next()`. Leftover bytes stay for the next pipelined request.
/// `limits.maxBodyBytes` applies to both (the streaming server sets it to `Int.max`).
public struct HTTP1RequestParser: Sendable {
    public let limits: HTTP1Limits
    private var buffer: [UInt8] = []
    private var start = 0
    private var state = State.head
    private var scanFrom = 0
    /// Body bytes of the current request announced so far (for the body limit).
    private var bodyAnnounced = 0
    /// The request `next()` is assembling.
    private var assembling: HTTPRequest?

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
        case end
        case failed(HTTP1ParseError)
    }

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received and not yet returned in an event.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Whether the parser is between requests (the next event would be a head).
    public var isAtRequestBoundary: Bool {
        if case .head = state { return true }
        return false
    }

    /// The next complete request, or nil when more bytes are needed. After an error the
    /// parser keeps failing (the connection must be closed after the error response).
    public mutating func next() throws(HTTP1ParseError) -> HTTPRequest? {
        while let event = try nextEvent() {
            switch event {
            case .head(let head, _):
                assembling = HTTPRequest(head: head)
            case .body(let bytes):
                assembling!.body.append(contentsOf: bytes)
            case .end:
                defer { assembling = nil }
                return assembling
            }
        }
        return nil
    }

    /// The next event, or nil when more bytes are needed. A `.body` slice is valid until the
    /// next mutating call. Errors are sticky, as for `next()`.
    public mutating func nextEvent() throws(HTTP1ParseError) -> HTTP1RequestEvent? {
        if case .failed(let error) = state { throw error }
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTP1ParseError) -> HTTP1RequestEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .end:
                state = .head
                return .end
            case .head:
                guard let head = try parseHead() else { return nil }
                bodyAnnounced = 0
                switch try bodyFraming(head) {
                case .none:
                    state = .end
                    return .head(head, expectedLength: 0)
                case .fixed(let length):
                    state = .fixedBody(remaining: length)
                    return .head(head, expectedLength: length)
                case .chunked:
                    state = .chunkSize
                    return .head(head, expectedLength: nil)
                }
            case .fixedBody(let remaining):
                let n = min(remaining, buffer.count - start)
                guard n > 0 else { return nil }
                let piece = buffer[start..<start + n]
                start += n
                state = n == remaining ? .end : .fixedBody(remaining: remaining - n)
                return .body(piece)
            case .chunkSize:
                guard let line = try takeLine(limit: 1024, what: "chunk size line") else { return nil }
                let size = try parseChunkSize(line)
                if size > limits.maxBodyBytes - bodyAnnounced {
                    throw HTTP1ParseError(413, "request body exceeds \(limits.maxBodyBytes) bytes")
                }
                bodyAnnounced += size
                state = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, buffer.count - start)
                guard n > 0 else { return nil }
                let piece = buffer[start..<start + n]
                start += n
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
                return .body(piece)
            case .chunkDataEnd:
                guard buffer.count - start >= 2 else { return nil }
                guard buffer[start] == 13 && buffer[start + 1] == 10 else {
                    throw HTTP1ParseError(400, "chunk data not followed by CRLF")
                }
                start += 2
                state = .chunkSize
            case .trailers(let bytes):
                guard let line = try takeLine(limit: limits.maxHeaderBytes - bytes, what: "trailer section") else { return nil }
                if line.isEmpty {
                    state = .head
                    return .end
                }
                _ = try parseHeaderLine(line)  // validated, then dropped
                state = .trailers(bytes: bytes + line.count + 2)
            }
        }
    }

    // MARK: pieces

    private mutating func compact() {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scanFrom = max(0, scanFrom - start)
            start = 0
        }
    }

    /// A CRLF-terminated line (without the CRLF), nil when incomplete. A bare LF or CR is an error.
    private mutating func takeLine(limit: Int, what: String) throws(HTTP1ParseError) -> ArraySlice<UInt8>? {
        var i = start
        while i < buffer.count {
            let c = buffer[i]
            if c == 10 { throw HTTP1ParseError(400, "bare LF in \(what)") }
            if c == 13 {
                guard i + 1 < buffer.count else { return nil }
                guard buffer[i + 1] == 10 else { throw HTTP1ParseError(400, "bare CR in \(what)") }
                let line = buffer[start..<i]
                start = i + 2
                return line
            }
            if i - start >= limit { throw HTTP1ParseError(what == "request line" ? 414 : 431, "\(what) too long") }
            i += 1
        }
        if i - start > limit { throw HTTP1ParseError(what == "request line" ? 414 : 431, "\(what) too long") }
        return nil
    }

    /// Parses request line and headers once the blank line has arrived.
    private mutating func parseHead() throws(HTTP1ParseError) -> HTTPRequestHead? {
        // Tolerate (only) empty lines before a request, as RFC 9112 §2.2 allows.
        while buffer.count - start >= 2 && buffer[start] == 13 && buffer[start + 1] == 10 { start += 2 }
        // Find the end of the head without consuming, so a partial head costs one scan.
        var i = max(scanFrom, start)
        var end: Int?
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { end = i + 4; break }
            i += 1
        }
        guard let end else {
            scanFrom = max(start, buffer.count - 3)
            // Validate the request line as soon as it is complete, so garbage fails fast.
            let saved = start
            defer { start = saved }
            if let line = try takeLine(limit: limits.maxRequestLineBytes, what: "request line") {
                _ = try parseRequestLine(line)
            }
            if buffer.count - saved > limits.maxHeaderBytes {
                throw HTTP1ParseError(431, "request header section exceeds \(limits.maxHeaderBytes) bytes")
            }
            return nil
        }
        if end - start > limits.maxHeaderBytes + 4 {
            throw HTTP1ParseError(431, "request header section exceeds \(limits.maxHeaderBytes) bytes")
        }
        guard let requestLine = try takeLine(limit: limits.maxRequestLineBytes, what: "request line") else { return nil }
        let (method, target, version) = try parseRequestLine(requestLine)
        var headers = HTTPHeaders()
        while true {
            guard let line = try takeLine(limit: limits.maxHeaderBytes, what: "header line") else {
                throw HTTP1ParseError(400, "malformed header section")
            }
            if line.isEmpty { break }
            if headers.count >= limits.maxHeaderCount {
                throw HTTP1ParseError(431, "more than \(limits.maxHeaderCount) header fields")
            }
            let (name, value) = try parseHeaderLine(line)
            headers.add(name, value)
        }
        scanFrom = start
        if version == .http1_1 && headers.values("host").count != 1 {
            throw HTTP1ParseError(400, "HTTP/1.1 request needs exactly one Host header")
        }
        return HTTPRequestHead(method: method, target: target, version: version, headers: headers)
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTP1ParseError) -> (String, String, HTTPVersion) {
        guard let firstSpace = line.firstIndex(of: 32) else { throw HTTP1ParseError(400, "malformed request line") }
        let method = line[line.startIndex..<firstSpace]
        guard !method.isEmpty, method.allSatisfy(Self.isTokenChar) else { throw HTTP1ParseError(400, "invalid method") }
        let rest = line[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: 32) else { throw HTTP1ParseError(400, "malformed request line") }
        let target = rest[rest.startIndex..<secondSpace]
        let versionBytes = rest[(secondSpace + 1)...]
        guard !target.isEmpty, target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw HTTP1ParseError(400, "invalid request target")
        }
        guard target.first == UInt8(ascii: "/") || (method.elementsEqual("OPTIONS".utf8) && target.elementsEqual("*".utf8))
            || (method.elementsEqual("CONNECT".utf8)) || target.starts(with: "http://".utf8) || target.starts(with: "https://".utf8) else {
            throw HTTP1ParseError(400, "invalid request target")
        }
        let v = Array(versionBytes)
        guard v.count == 8, v[0..<5].elementsEqual("HTTP/".utf8), (48...57).contains(v[5]), v[6] == UInt8(ascii: "."),
              (48...57).contains(v[7]) else {
            throw HTTP1ParseError(400, "malformed HTTP version")
        }
        let version = HTTPVersion(major: Int(v[5] - 48), minor: Int(v[7] - 48))
        guard version == .http1_1 || version == .http1_0 else { throw HTTP1ParseError(505, "unsupported \(version)") }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), version)
    }

    private func parseHeaderLine(_ line: ArraySlice<UInt8>) throws(HTTP1ParseError) -> (String, String) {
        if let first = line.first, first == 32 || first == 9 { throw HTTP1ParseError(400, "obsolete line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTP1ParseError(400, "header line without colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(Self.isTokenChar) else { throw HTTP1ParseError(400, "invalid header name") }
        var value = line[(colon + 1)...]
        while let c = value.first, c == 32 || c == 9 { value = value.dropFirst() }
        while let c = value.last, c == 32 || c == 9 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
            throw HTTP1ParseError(400, "invalid character in header value")
        }
        return (String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self))
    }

    private enum BodyFraming { case none, fixed(Int), chunked }

    private func bodyFraming(_ request: HTTPRequestHead) throws(HTTP1ParseError) -> BodyFraming {
        let encodings = request.headers.values("transfer-encoding")
        let lengths = request.headers.values("content-length")
        if !encodings.isEmpty {
            guard lengths.isEmpty else { throw HTTP1ParseError(400, "both Transfer-Encoding and Content-Length") }
            guard request.version == .http1_1 else { throw HTTP1ParseError(400, "Transfer-Encoding in an HTTP/1.0 request") }
            let codings = encodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces.lowercased() }
            guard codings == ["chunked"] else { throw HTTP1ParseError(501, "unsupported transfer coding") }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        // Several Content-Length values (or a list) must all agree.
        var length: Int?
        for item in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let text = item.trimmingSpaces
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(text) else {
                throw HTTP1ParseError(400, "invalid Content-Length")
            }
            if let length, length != n { throw HTTP1ParseError(400, "conflicting Content-Length values") }
            length = n
        }
        if length! > limits.maxBodyBytes { throw HTTP1ParseError(413, "request body exceeds \(limits.maxBodyBytes) bytes") }
        return length! == 0 ? .none : .fixed(length!)
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTP1ParseError) -> Int {
        var digits = line
        if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) {
            digits = line[line.startIndex..<semicolon]
            // chunk-ext: validated loosely (visible ASCII, no CTLs); its content is ignored.
            guard line[(semicolon + 1)...].allSatisfy({ $0 == 9 || ($0 >= 32 && $0 < 127) }) else {
                throw HTTP1ParseError(400, "invalid chunk extension")
            }
        }
        while let c = digits.last, c == 32 || c == 9 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 15 else { throw HTTP1ParseError(400, "invalid chunk size") }
        var size = 0
        for c in digits {
            let v: Int
            switch c {
            case 48...57: v = Int(c - 48)
            case 65...70: v = Int(c - 55)
            case 97...102: v = Int(c - 87)
            default: throw HTTP1ParseError(400, "invalid chunk size")
            }
            size = size * 16 + v
        }
        return size
    }

    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
