import NimbusEventLoop
import NimbusHTTP
import Synchronization
import Testing
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The streaming HTTP/1.1 server over real loopback sockets: bodies beyond the buffered limit,
/// chunked both ways, 100-continue, HEAD, backpressure on a handler that does not read.
@Suite(.serialized) struct HTTP1StreamingServerTests {
    private func serve(_ handler: @escaping HTTPStreamingHandler) async throws -> HTTPServer {
        let server = try HTTPServer(configuration: HTTPServerConfiguration(), router: NoHTTP2(), streaming: handler)
        try await server.start()
        return server
    }

    @Test func bodiesBeyondTheBufferedLimitStreamInBothFramings() async throws {
        let server = try await serve { head, body in
            var total = 0, sum = 0
            do {
                for try await chunk in body {
                    total += chunk.count
                    sum = chunk.withUnsafeBytes { Self.checksum($0, seed: sum) }
                }
            } catch { return .text(400, "\(error)") }
            return .text(200, "\(total) \(sum)")
        }
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        var payload = [UInt8](repeating: 0, count: 12 << 20)
        payload.withUnsafeMutableBytes { p in for i in stride(from: 0, to: p.count, by: 4096) { p[i] = UInt8(truncatingIfNeeded: (i >> 12) &+ 1) } }
        let sum = payload.withUnsafeBytes { Self.checksum($0, seed: 0) }
        let client = try BlockingClient(port: server.port)
        try client.send("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: \(payload.count)\r\n\r\n")
        try client.send(payload)
        #expect(try client.readResponse().body == "\(payload.count) \(sum)")
        // Same connection (keep-alive), chunked this time.
        try client.send("PUT /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in stride(from: 0, to: payload.count, by: 1 << 20) {
            try client.send("\(String(1 << 20, radix: 16))\r\n")
            try client.send(Array(payload[start..<start + (1 << 20)]))
            try client.send("\r\n")
        }
        try client.send("0\r\n\r\n")
        #expect(try client.readResponse().body == "\(payload.count) \(sum)")
    }

    /// A byte sum over raw memory (fast enough in a debug build).
    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: Int) -> Int {
        var sum = seed
        for byte in bytes { sum &+= Int(byte) }
        return sum
    }

    @Test func streamedResponsesChunkedKnownLengthAndHead() async throws {
        let server = try await serve { head, _ in
            let pieces = ["alpha\n", "beta\n", "gamma\n"]
            let known = head.path == "/known"
            return HTTPStreamingResponse(status: 200, headers: ["content-type": "text/plain"], body: .stream(
                length: known ? pieces.joined().utf8.count : nil,
                { writer in for piece in pieces { try await writer.write(Array(piece.utf8)) } }))
        }
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try BlockingClient(port: server.port)
        try client.send("GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n")
        let chunked = try client.readResponse()
        #expect(chunked.headers["transfer-encoding"] == "chunked")
        #expect(chunked.body == "alpha\nbeta\ngamma\n")
        try client.send("GET /known HTTP/1.1\r\nHost: t\r\n\r\n")
        let known = try client.readResponse()
        #expect(known.headers["content-length"] == "17" && known.body == "alpha\nbeta\ngamma\n")
        try client.send("HEAD /known HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readResponse(head: true)
        #expect(head.headers["content-length"] == "17" && head.body.isEmpty)
        try client.send("GET /known HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(try client.readResponse().body == "alpha\nbeta\ngamma\n")  // the HEAD left nothing behind
    }

    @Test func continueIsSentWhenTheHandlerAsksAndNotWhenItRefuses() async throws {
        let server = try await serve { head, body in
            if head.path == "/refuse" { return .text(403, "no\n") }
            let bytes = (try? await body.collect(upTo: 1 << 20)) ?? []
            return .text(200, "got \(bytes.count)\n")
        }
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try BlockingClient(port: server.port)
        try client.send("PUT /take HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        #expect(try client.readResponse().status == 100)
        try client.send("data")
        #expect(try client.readResponse().body == "got 4\n")

        let refused = try BlockingClient(port: server.port)
        try refused.send("PUT /refuse HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
        let response = try refused.readResponse()
        #expect(response.status == 403 && response.headers["connection"] == "close")
        #expect(try refused.readToEnd().isEmpty)  // closed: no 100 ever came
    }

    @Test func unreadSmallBodyIsDiscardedAndTheConnectionKept() async throws {
        let server = try await serve { head, _ in .text(201, "\(head.path)\n") }
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try BlockingClient(port: server.port)
        try client.send("POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /two HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().body == "/one\n")
        let second = try client.readResponse()
        #expect(second.body == "/two\n" && second.headers["connection"] == "keep-alive")
    }

    @Test func aHandlerThatDoesNotReadStopsTheSender() async throws {
        let release = Gate()
        let received = Atomic<Int>(0)
        let server = try await serve { _, body in
            await release.wait()
            do {
                for try await chunk in body { received.add(chunk.count, ordering: .relaxed) }
            } catch { return .text(400, "\(error)") }
            return .text(200, "\(received.load(ordering: .relaxed))")
        }
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let total = 64 << 20
        let client = try BlockingClient(port: server.port, sendBuffer: 64 << 10)
        try client.send("PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: \(total)\r\n\r\n")
        // Send without blocking until the server stops taking bytes.
        let chunk = [UInt8](repeating: 1, count: 64 << 10)
        var sent = 0
        var stalledSince = ContinuousClock.now
        while ContinuousClock.now - stalledSince < .milliseconds(500) && sent < total {
            let n = client.trySend(chunk)
            if n > 0 { sent += n; stalledSince = ContinuousClock.now } else { try await Task.sleep(for: .milliseconds(10)) }
        }
        // Bounded by the server's high-water marks and the kernel's socket buffers, far below 64 MiB.
        #expect(sent < 16 << 20, "the server kept reading: \(sent) bytes taken")
        release.open()
        while sent < total {
            let n = client.trySend(Array(chunk.prefix(total - sent)))
            if n > 0 { sent += n } else { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(try client.readResponse().body == "\(total)")
    }
}

/// Refuses every HTTP/2 stream (these tests speak HTTP/1.1 only).
struct NoHTTP2: HTTP2RequestRouter {
    func openStream(_ opening: HTTP2StreamOpening, head: inout HTTP2RequestHead) -> HTTP2ServerStream {
        HTTP2ServerStream(opening: opening)
    }
}

final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if ready { c.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

/// A blocking loopback client that reads HTTP/1.1 responses (Content-Length, chunked, close).
final class BlockingClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    init(port: Int, sendBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = sendBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        // struct timeval { tv_sec, tv_usec } as two Ints (the C type's members are not visible
        // to this target under MemberImportVisibility).
        var timeout: (Int, Int) = (10, 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<(Int, Int)>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw SocketError(call: "connect", errno: errno) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw SocketError(call: "send", errno: errno) }
            offset += n
        }
    }

    /// Sends what the kernel takes now (0 when the buffer is full).
    func trySend(_ bytes: [UInt8]) -> Int {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return max(0, n)
    }

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw SocketError(call: "recv", errno: errno) }
        if n == 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    private func line() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let text = String(decoding: buffer[0..<i], as: UTF8.self).trimmingCharacters(in: "\r")
                buffer.removeFirst(i + 1)
                return text
            }
            guard try fill() else { throw SocketError(call: "recv (closed mid-line)", errno: 0) }
        }
    }

    private func take(_ n: Int) throws -> [UInt8] {
        while buffer.count < n {
            guard try fill() else { throw SocketError(call: "recv (closed mid-body)", errno: 0) }
        }
        defer { buffer.removeFirst(n) }
        return Array(buffer[0..<n])
    }

    func readResponse(head: Bool = false) throws -> Response {
        let status = Int(try line().split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        while true {
            let l = try line()
            if l.isEmpty { break }
            let colon = l.firstIndex(of: ":")!
            headers[l[..<colon].lowercased()] = String(l[l.index(after: colon)...]).trimmingCharacters(in: " ")
        }
        if status == 100 || head { return Response(status: status, headers: headers, body: "") }
        var body: [UInt8] = []
        if let length = headers["content-length"].flatMap(Int.init) {
            body = try take(length)
        } else if headers["transfer-encoding"] == "chunked" {
            while true {
                let size = Int(try line(), radix: 16) ?? 0
                if size == 0 { _ = try line(); break }
                body += try take(size)
                _ = try line()
            }
        } else {
            while try fill() {}
            body = buffer
            buffer = []
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
