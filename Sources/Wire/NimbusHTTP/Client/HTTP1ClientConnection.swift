import NimbusEventLoop
import Synchronization

/// One HTTP/1.1 client connection (TCP or Unix-domain) on one event loop, one request at a
/// time. Loop-confined except the `async` entry points, which hop onto the loop. Both bodies
/// stream with backpressure: request writes wait while 256 KiB is unsent, and the socket is
/// not read while 256 KiB of response body sits unread by the consumer.
final class HTTP1ClientConnection: EventLoopIOHandler, EventLoopFlushable, HTTPRequestBodySource, @unchecked Sendable {
    let loop: EventLoop
    let address: SocketAddress
    /// Called on the loop when a response ended and the connection can take the next request.
    private let onIdle: @Sendable (HTTP1ClientConnection) -> Void
    private let usable = Atomic<Bool>(false)

    // ── loop-confined ──
    private var socket: Socket?
    private var stream: ByteStream?
    private var connectWaiter: CheckedContinuation<Void, any Error>?
    private var connectTimer: EventLoopTimer?
    private var outbound = OutboundBuffer()
    private var flushScheduled = false
    private var writeArmed = false
    private var readPaused = false
    private var writerWaiter: CheckedContinuation<Void, any Error>?
    private var parser = HTTP1ResponseParser()
    private var headWaiter: CheckedContinuation<(HTTPResponseHead, HTTPRequestBody), any Error>?
    private var headResult: Result<(HTTPResponseHead, HTTPRequestBody), any Error>?
    private var responseBody: HTTPRequestBody?
    private var responseKeepAlive = false
    private var requestDone = false
    private var responseDone = false
    private var closed = false
    /// Whether any response byte arrived for the current request (a request on a reused
    /// connection that got none may be retried).
    private(set) var receivedAnything = false
    private var readBuffer = [UInt8](repeating: 0, count: 64 << 10)

    static let highWaterMark = 256 << 10

    init(loop: EventLoop, address: SocketAddress, onIdle: @escaping @Sendable (HTTP1ClientConnection) -> Void) {
        self.loop = loop
        self.address = address
        self.onIdle = onIdle
    }

    /// Open and between requests (from any thread).
    var isUsable: Bool { usable.load(ordering: .relaxed) }

    // MARK: async entry points (any task)

    func connect(timeout: Duration) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute { [self] in
                do {
                    let (socket, connected) = try Socket.connect(to: address)
                    self.socket = socket
                    self.stream = ByteStream(socket: socket, tls: nil)
                    try? socket.setNoDelay()
                    try loop.register(socket.fd, events: connected ? .readable : .writable, handler: self)
                    if connected {
                        continuation.resume()
                    } else {
                        connectWaiter = continuation
                        connectTimer = loop.scheduleTimer(after: timeout) { [self] in
                            fail(HTTP1ClientError.connectFailed(address.description, "timed out"))
                        }
                    }
                } catch {
                    closed = true
                    continuation.resume(throwing: HTTP1ClientError.connectFailed(address.description, "\(error)"))
                }
            }
        }
    }

    /// Sends the request head and starts waiting for the response.
    func begin(head: [UInt8], isHead: Bool) async throws {
        try await onLoop { [self] in
            guard !closed else { throw HTTP1ClientError.closed(address.description) }
            usable.store(false, ordering: .relaxed)
            parser.requestWasHead = isHead
            requestDone = false
            responseDone = false
            receivedAnything = false
            headResult = nil
            outbound.append(contentsOf: head)
            scheduleFlush()
        }
    }

    /// Request body bytes; suspends while the output is above the high-water mark.
    func write(_ bytes: ArraySlice<UInt8>, chunked: Bool) async throws {
        guard !bytes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let work: @Sendable () -> Void = { [self] in
                guard !closed else { return continuation.resume(throwing: closeReason) }
                if chunked {
                    outbound.append(contentsOf: String(bytes.count, radix: 16).utf8)
                    outbound.append(contentsOf: [13, 10])
                    outbound.append(contentsOf: bytes)
                    outbound.append(contentsOf: [13, 10])
                } else {
                    outbound.append(contentsOf: bytes)
                }
                scheduleFlush()
                if outbound.pendingCount < Self.highWaterMark {
                    continuation.resume()
                } else {
                    writerWaiter = continuation
                }
            }
            if loop.inEventLoop { work() } else { loop.execute(work) }
        }
    }

    func endRequest(chunked: Bool) async throws {
        try await onLoop { [self] in
            guard !closed else { throw closeReason }
            if chunked { outbound.append(contentsOf: Array("0\r\n\r\n".utf8)) }
            requestDone = true
            scheduleFlush()
            releaseIfDone()
        }
    }

    /// The response head and its streamed body.
    func responseHead() async throws -> (HTTPResponseHead, HTTPRequestBody) {
        try await withCheckedThrowingContinuation { continuation in
            let work: @Sendable () -> Void = { [self] in
                if let headResult {
                    continuation.resume(with: headResult)
                } else if closed {
                    continuation.resume(throwing: closeReason)
                } else {
                    headWaiter = continuation
                }
            }
            if loop.inEventLoop { work() } else { loop.execute(work) }
        }
    }

    /// Abandons the connection (the request cannot be completed).
    func abort(_ error: any Error) {
        loop.execute { [self] in fail(error) }
    }

    private func onLoop(_ work: @escaping @Sendable () throws -> Void) async throws {
        if loop.inEventLoop { return try work() }
        try await loop.submit(work)
    }

    // MARK: HTTPRequestBodySource (the response body's consumer)

    func bodyDemanded() {}

    func bodyConsumed(bufferedBytes: Int) {
        guard bufferedBytes < Self.highWaterMark / 2 else { return }
        let work: @Sendable () -> Void = { [self] in
            guard !closed else { return }
            pump()
            updateReading()
            if !readPaused { readAvailable() }
        }
        if loop.inEventLoop { work() } else { loop.execute(work) }
    }

    // MARK: I/O (loop)

    func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        if closed { return }
        if let connectWaiter {
            guard writable || hangup else { return }
            self.connectWaiter = nil
            if let connectTimer { loop.cancelTimer(connectTimer) }
            connectTimer = nil
            let error = socket?.pendingError() ?? 0
            if error != 0 {
                connectWaiter.resume(throwing: HTTP1ClientError.connectFailed(address.description, "\(SocketError(call: "connect", errno: error))"))
                fail(HTTP1ClientError.connectFailed(address.description, "errno \(error)"))
                return
            }
            updateInterest()
            connectWaiter.resume()
            return
        }
        if writable { flushAtTickEnd() }
        if readPaused {
            if hangup { fail(closeReason) }
            return
        }
        if readable || hangup { readAvailable() }
    }

    private func readAvailable() {
        guard let stream else { return }
        while !closed && !readPaused {
            let result: ReadResult
            do {
                result = try readBuffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            } catch {
                fail(HTTP1ClientError.io(address.description, "\(error)"))
                return
            }
            switch result {
            case .bytes(let n):
                receivedAnything = true
                readBuffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                pump()
                updateReading()
            case .wouldBlock:
                return
            case .eof:
                do {
                    if let event = try parser.finishInput() { handle(event) }
                } catch {
                    fail(HTTP1ClientError.io(address.description, error.reason))
                    return
                }
                responseKeepAlive = false
                fail(HTTP1ClientError.closed(address.description))
                return
            }
        }
    }

    /// Moves parsed events to the response body while its consumer keeps up.
    private func pump() {
        while !closed {
            if let responseBody, responseBody.bufferedBytes >= Self.highWaterMark { return }
            let event: HTTP1ResponseParser.Event?
            do {
                event = try parser.nextEvent()
            } catch {
                fail(HTTP1ClientError.io(address.description, error.reason))
                return
            }
            guard let event else { return }
            handle(event)
        }
    }

    private func handle(_ event: HTTP1ResponseParser.Event) {
        switch event {
        case .head(let head, let expectedLength):
            let body = HTTPRequestBody(expectedLength: expectedLength, source: self)
            responseBody = body
            responseKeepAlive = head.keepAlive
            deliverHead(.success((head, body)))
        case .body(let bytes):
            responseBody?.append(Array(bytes)[...])
        case .end:
            // Back in the pool before the consumer sees the end, so its next request reuses it.
            let body = responseBody
            responseBody = nil
            responseDone = true
            releaseIfDone()
            body?.finish()
        }
    }

    private func deliverHead(_ result: Result<(HTTPResponseHead, HTTPRequestBody), any Error>) {
        if let headWaiter {
            self.headWaiter = nil
            headWaiter.resume(with: result)
        } else if headResult == nil {
            headResult = result
        }
    }

    private func releaseIfDone() {
        guard requestDone, responseDone else { return }
        if responseKeepAlive && parser.bufferedByteCount == 0 {
            headResult = nil
            usable.store(true, ordering: .relaxed)
            onIdle(self)
        } else {
            fail(HTTP1ClientError.closed(address.description))
        }
    }

    private func updateReading() {
        let pause = parser.bufferedByteCount >= Self.highWaterMark
        guard pause != readPaused else { return }
        readPaused = pause
        updateInterest()
    }

    private func updateInterest() {
        guard let socket, !closed else { return }
        var events: IOEvents = readPaused ? [] : .readable
        if writeArmed { events.insert(.writable) }
        try? loop.modify(socket.fd, events: events)
    }

    func scheduleFlush() {
        guard !flushScheduled, !closed, connectWaiter == nil else { return }
        flushScheduled = true
        loop.flushAtTickEnd(self)
    }

    func flushAtTickEnd() {
        flushScheduled = false
        guard let stream, !closed else { return }
        do {
            let done = try outbound.flush(to: stream)
            if writeArmed != !done {
                writeArmed = !done
                updateInterest()
            }
        } catch {
            fail(HTTP1ClientError.io(address.description, "\(error)"))
            return
        }
        if outbound.pendingCount < Self.highWaterMark, let writer = writerWaiter {
            writerWaiter = nil
            writer.resume()
        }
    }

    private var closeError: (any Error)?
    private var closeReason: any Error { closeError ?? HTTP1ClientError.closed(address.description) }

    /// Closes and fails whatever waits.
    private func fail(_ error: any Error) {
        guard !closed else { return }
        closed = true
        closeError = error
        usable.store(false, ordering: .relaxed)
        if let connectTimer { loop.cancelTimer(connectTimer) }
        if let socket { loop.deregister(socket.fd) }
        stream?.close()
        stream = nil
        socket = nil
        connectWaiter?.resume(throwing: error)
        connectWaiter = nil
        writerWaiter?.resume(throwing: error)
        writerWaiter = nil
        if headResult == nil || headWaiter != nil { deliverHead(.failure(error)) }
        responseBody?.fail(.aborted("\(error)"))
        responseBody = nil
    }
}

public enum HTTP1ClientError: Error, Sendable, CustomStringConvertible {
    case connectFailed(String, String)
    case closed(String)
    case io(String, String)

    public var description: String {
        switch self {
        case .connectFailed(let address, let why): "cannot connect to \(address): \(why)"
        case .closed(let address): "\(address) closed the connection"
        case .io(let address, let why): "HTTP/1.1 exchange with \(address) failed: \(why)"
        }
    }
}
