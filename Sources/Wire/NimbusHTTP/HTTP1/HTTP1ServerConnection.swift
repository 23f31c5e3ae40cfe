import NimbusEventLoop

/// The HTTP/1.1 side of a server connection: parse, run the streaming handler as a task on
/// the connection's loop with the body streamed in, stream the response out, keep-alive.
/// Protocol decisions live in `HTTP1ConnectionMachine`; this class moves bytes and tasks.
/// Backpressure both ways: the socket is not read while the parser holds a high-water mark of
/// unread bytes (the body consumer pulls them through), and response writes suspend while a
/// high-water mark of output waits for the socket.
final class HTTP1ServerConnection: ConnectionCodec, HTTPRequestBodySource, @unchecked Sendable {
    // @unchecked: touched only on the connection's loop; the handler task is pinned there
    // (executor preference) and hops back with `loop.execute` if it ever is not.
    /// Strong: the in-flight handler task holds this codec and may finish after the connection
    /// closed. The cycle with `ServerConnection.codec` is broken by `ServerConnection.close()`,
    /// and nothing is written once `connectionClosed` ran.
    private let connection: ServerConnection
    private let loop: EventLoop
    private let handler: HTTPStreamingHandler
    private var parser: HTTP1RequestParser
    private var machine = HTTP1ConnectionMachine()
    private var body: HTTPRequestBody?
    private var pending: [UInt8] = []
    private var inFlight: Task<Void, Never>?
    private var blockedWriter: CheckedContinuation<Void, any Error>?
    private var closed = false
    /// The response being written: its framing and the body bytes written so far.
    private var framing = HTTP1ConnectionMachine.Framing.none
    private var bodyBytesWritten = 0

    /// Unread input (in the parser and the body queue) and unwritten output, each.
    static let highWaterMark = 256 << 10
    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    init(connection: ServerConnection, handler: @escaping HTTPStreamingHandler, limits: HTTP1Limits) {
        self.connection = connection
        self.loop = connection.loop
        self.handler = handler
        var unbounded = limits
        unbounded.maxBodyBytes = .max  // the handler decides (HTTPStreaming.handler(buffered:) keeps a cap)
        self.parser = HTTP1RequestParser(limits: unbounded)
    }

    // MARK: input

    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closed, !machine.isClosing else { return }
        parser.append(bytes)
        pump()
    }

    var wantsRead: Bool {
        !closed && !machine.isClosing && parser.bufferedByteCount < Self.highWaterMark
    }

    /// Moves parsed events along as far as the machine and the body consumer allow.
    private func pump() {
        let couldRead = wantsRead
        defer { if wantsRead != couldRead { connection.readInterestChanged() } }
        do {
            while !closed {
                if machine.isAwaitingHead {
                    guard let event = try parser.nextEvent() else { return }
                    guard case .head(var head, let expectedLength) = event else { continue }
                    head.peer = connection.peerDescription
                    start(head, expectedLength: expectedLength)
                } else if machine.wantsBodyEvents {
                    if let body, !machine.isDiscarding, body.bufferedBytes >= Self.highWaterMark { return }
                    guard let event = try parser.nextEvent() else { return }
                    switch event {
                    case .body(let bytes):
                        machine.receivedBody(bytes.count)
                        if machine.isDiscarding {
                            if machine.discardExhausted { closeAfterOutput(); return }
                        } else {
                            body?.append(Array(bytes)[...])  // a copy: the parser's buffer moves on
                        }
                    case .end:
                        body?.finish()
                        if machine.receivedBodyEnd() == .close { closeAfterOutput() }
                    case .head:
                        continue  // not while a body is open
                    }
                } else {
                    return
                }
            }
        } catch {
            refuse(error)
        }
    }

    private func start(_ head: HTTPRequestHead, expectedLength: Int?) {
        machine.receivedHead(head, expectedLength: expectedLength)
        let body = HTTPRequestBody(expectedLength: expectedLength, source: self)
        self.body = body
        if expectedLength == 0 { body.finish() }
        framing = .none
        bodyBytesWritten = 0
        let handler = self.handler
        inFlight = Task(executorPreference: loop) { [self] in
            let response = await handler(head, body)
            await send(response, isHead: head.method == "HEAD")
        }
    }

    /// Malformed input: answer with its status if no response has started, then close.
    private func refuse(_ error: HTTP1ParseError) {
        body?.fail(.aborted(error.reason))
        if !machine.responseStarted {
            inFlight?.cancel()
            inFlight = nil
            var response = HTTPResponse.text(error.status, "\(error.reason)\n")
            response.headers.add("x-nimbus-error", "malformed-request")
            response.headers.add("x-request-id", RequestIdentity.newRequestID())
            pending.append(contentsOf: response.serialized(keepAlive: false))
        }
        closeAfterOutput()
    }

    private func closeAfterOutput() {
        machine.failed()
        connection.scheduleFlush()
    }

    // MARK: HTTPRequestBodySource (any thread)

    func bodyDemanded() {
        onLoop { [self] in
            guard !closed, machine.bodyDemanded() else { return }
            pending.append(contentsOf: Self.continueLine)
            connection.scheduleFlush()
        }
    }

    func bodyConsumed(bufferedBytes: Int) {
        guard bufferedBytes < Self.highWaterMark / 2 else { return }
        onLoop { [self] in if !closed { pump() } }
    }

    private func onLoop(_ work: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { work() } else { loop.execute(work) }
    }

    // MARK: output

    /// Runs in the handler's task: the head, then the body (streamed with backpressure).
    private func send(_ response: HTTPStreamingResponse, isHead: Bool) async {
        let length: Int?
        switch response.body {
        case .bytes(let bytes): length = bytes.count
        case .stream(let streamLength, _): length = streamLength
        }
        guard await hop({ self.writeHead(response, length: length, isHead: isHead) }) else { return }
        var failed = false
        switch response.body {
        case .bytes(let bytes):
            if !isHead && !bytes.isEmpty && framing != .none { _ = await hop { self.appendBody(bytes[...]) } }
        case .stream(_, let produce):
            if !isHead && framing != .none {
                do {
                    try await produce(ResponseWriter(connection: self))
                    if case .length(let expected) = framing, bodyBytesWritten != expected {
                        throw HTTPBodyError.aborted("response stream wrote \(bodyBytesWritten) of \(expected) bytes")
                    }
                } catch {
                    failed = true
                }
            }
        }
        let outcome = failed
        _ = await hop { self.endResponse(failed: outcome, isHead: isHead) }
    }

    /// Runs `work` on the loop; false when the connection is gone.
    private func hop(_ work: @escaping @Sendable () -> Bool) async -> Bool {
        if loop.inEventLoop { return work() }
        return (try? await loop.submit(work)) ?? false
    }

    private func writeHead(_ response: HTTPStreamingResponse, length: Int?, isHead: Bool) -> Bool {
        guard !closed, inFlight != nil else { return false }
        let askedToClose = response.headers["connection"]?.lowercased().contains("close") ?? false
        let (framing, keepAlive) = machine.responseHead(status: response.status, length: length, handlerAskedToClose: askedToClose)
        self.framing = framing
        var out = "HTTP/1.1 \(response.status) \(HTTPResponse.reasonPhrase(response.status))\r\n"
        for (name, value) in response.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "connection" || lower == "transfer-encoding" { continue }
            out += "\(name): \(value)\r\n"
        }
        switch framing {
        case .length(let n): out += "content-length: \(n)\r\n"
        case .chunked where !isHead: out += "transfer-encoding: chunked\r\n"
        default: break
        }
        out += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n"
        pending.append(contentsOf: out.utf8)
        connection.scheduleFlush()
        return true
    }

    /// Appends body bytes in the response's framing; false when the writer must wait for the
    /// socket (or the connection is gone: then `closed`).
    @discardableResult
    private func appendBody(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !closed else { return false }
        bodyBytesWritten += bytes.count
        if case .chunked = framing {
            pending.append(contentsOf: String(bytes.count, radix: 16).utf8)
            pending.append(13); pending.append(10)
            pending.append(contentsOf: bytes)
            pending.append(13); pending.append(10)
        } else {
            pending.append(contentsOf: bytes)
        }
        connection.scheduleFlush()
        return pending.count < Self.highWaterMark
    }

    /// A write from the response stream: suspends while the output is above the high-water mark.
    fileprivate func writeBody(_ bytes: ArraySlice<UInt8>) async throws {
        guard !bytes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            onLoop { [self] in
                guard !closed else { return continuation.resume(throwing: HTTPBodyError.aborted("connection closed")) }
                if case .length(let expected) = framing, bytes.count > expected - bodyBytesWritten {
                    return continuation.resume(throwing: HTTPBodyError.aborted("response stream wrote more than \(expected) bytes"))
                }
                if appendBody(bytes) {
                    continuation.resume()
                } else {
                    blockedWriter = continuation
                }
            }
        }
    }

    private func endResponse(failed: Bool, isHead: Bool) -> Bool {
        guard !closed, inFlight != nil else { return false }
        inFlight = nil
        if !failed, !isHead, case .chunked = framing { pending.append(contentsOf: "0\r\n\r\n".utf8) }
        switch machine.responseEnded(failed: failed) {
        case .close: break
        case .readNextRequest, .discardBody: body = nil
        }
        connection.scheduleFlush()
        pump()
        return true
    }

    func produceOutput(into buffer: inout OutboundBuffer) throws {
        guard !pending.isEmpty, buffer.pendingCount < Self.highWaterMark else { return }
        buffer.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: pending.capacity <= 1 << 20)
        if let writer = blockedWriter {
            blockedWriter = nil
            writer.resume()
        }
    }

    var hasMoreOutput: Bool { !pending.isEmpty }
    var wantsClose: Bool { (machine.isClosing || closed) && pending.isEmpty }
    var isIdle: Bool { inFlight == nil }

    func beginGracefulShutdown() {
        if machine.beginShutdown() { connection.scheduleFlush() }
    }

    func connectionClosed() {
        closed = true
        body?.fail(.aborted("connection closed"))
        body = nil
        blockedWriter?.resume(throwing: HTTPBodyError.aborted("connection closed"))
        blockedWriter = nil
        inFlight?.cancel()
        inFlight = nil
    }
}

/// The handler's view of the response body: each write waits for room in the output.
private struct ResponseWriter: HTTPBodyWriter {
    let connection: HTTP1ServerConnection

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        try await connection.writeBody(bytes)
    }
}
