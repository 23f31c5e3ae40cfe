import NimbusEventLoop
import Synchronization

/// Receives one stream's response, on the connection's loop thread.
public protocol HTTP2ClientStreamHandler: AnyObject {
    func receivedHeaders(_ fields: [HTTP2ClientHeader], endStream: Bool)
    func receivedData(_ bytes: [UInt8])
    func receivedEndOfData()
    /// The stream is over. `unprocessed`: the server certainly did not act on it (refused, above
    /// a GOAWAY's last stream, or its HEADERS never left this process) — safe to retry.
    func streamClosed(_ errorCode: HTTP2ClientErrorCode, unprocessed: Bool)
    /// The request body queue drained below the low-water mark (after `notifyWhenWritable`).
    func streamWritable()
}

/// One client HTTP/2 connection (h2c with prior knowledge, or TLS with ALPN h2) on one event
/// loop, multiplexing many streams. Everything but the `Sendable` surface (`state`,
/// `activeStreams`, `close`, `loop`) runs on `loop`.
public final class HTTP2ClientConnection: @unchecked Sendable {
    public enum State: Sendable, Equatable {
        case connecting
        case ready
        /// GOAWAY sent or received: open streams finish, no new ones.
        case draining
        case closed
    }

    public struct Options: Sendable {
        public var session = HTTP2ClientSession.Settings()
        public var connectTimeout: Duration = .seconds(5)
        /// PING period while streams are open; nil turns keepalive off.
        public var keepaliveInterval: Duration? = nil
        /// How long a PING may stay unanswered before the connection is declared dead.
        public var keepaliveTimeout: Duration = .seconds(10)
        public init() {}
    }

    public let loop: EventLoop
    public let address: SocketAddress
    let tlsContext: TLSContext?
    let serverName: String?
    let options: Options
    /// Called on the loop whenever `state` changes; the error says why it closed.
    let onStateChange: @Sendable (HTTP2ClientConnection, State, (any Error)?) -> Void

    let shared = Mutex<(state: State, streams: Int)>((.connecting, 0))

    // ── loop-confined ──
    var stream: ByteStream?
    var socket: Socket?
    var session: HTTP2ClientSession?
    var handshaking = false
    var outbound = OutboundBuffer()
    var flushScheduled = false
    /// Pending input was looked at in this loop tick (reset when the tick's flush runs).
    var peerCheckedThisTick = false
    var waitingForWritable = false
    var handlers: [Int32: any HTTP2ClientStreamHandler] = [:]
    /// Streams up to this id had their HEADERS written to the socket; `pendingHeadersMark` is
    /// the mark for the bytes still in `outbound`.
    var lastStreamIDWritten: Int32 = 0
    var pendingHeadersMark: Int32 = 0
    var connectTimer: EventLoopTimer?
    var keepaliveTimer: EventLoopTimer?
    var pingTimeoutTimer: EventLoopTimer?
    var readBuffer = [UInt8](repeating: 0, count: 64 << 10)
    /// The storage of the next event batch (see `dispatchEvents`).
    var spareEvents: [HTTP2ClientEvent] = []
    var closeError: (any Error)?

    /// A connection that starts connecting when `connect()` is called.
    public init(loop: EventLoop, address: SocketAddress, tls: TLSContext?, serverName: String?, options: Options = Options(),
         onStateChange: @escaping @Sendable (HTTP2ClientConnection, State, (any Error)?) -> Void) {
        self.loop = loop
        self.address = address
        self.tlsContext = tls
        self.serverName = serverName
        self.options = options
        self.onStateChange = onStateChange
    }

    /// Starts connecting on `loop` (from any thread). `onStateChange` reports `.ready` or `.closed`.
    public static func connect(on loop: EventLoop, to address: SocketAddress, tls: TLSContext?, serverName: String?,
                               options: Options = Options(),
                               onStateChange: @escaping @Sendable (HTTP2ClientConnection, State, (any Error)?) -> Void) -> HTTP2ClientConnection {
        let connection = HTTP2ClientConnection(loop: loop, address: address, tls: tls, serverName: serverName,
                                               options: options, onStateChange: onStateChange)
        connection.connect()
        return connection
    }

    /// Starts connecting on `loop` (from any thread).
    public func connect() {
        loop.execute { [self] in start() }
    }

    /// From any thread.
    public var state: State { shared.withLock { $0.state } }
    /// Open streams, from any thread (for least-loaded choice).
    public var activeStreams: Int { shared.withLock { $0.streams } }

    /// Closes from any thread. `graceful`: GOAWAY, let open streams finish, then close.
    public func close(graceful: Bool) {
        loop.execute { [self] in
            if graceful && !handlers.isEmpty, let session {
                session.goAway()
                setState(.draining)
                scheduleFlush()
            } else {
                shutdown(HTTP2ClientConnectionError.closedLocally)
            }
        }
    }

    // MARK: - Streams (loop thread)

    /// Opens a stream; the body follows with `send`. Throws when the connection takes no new streams.
    public func startStream(headers: [HTTP2ClientHeader], handler: any HTTP2ClientStreamHandler) throws -> Int32 {
        try startStream(headers: HTTP2ClientRequestHeaders(headers), handler: handler)
    }

    /// `startStream` with a prebuilt header block (see `HTTP2ClientHeaderPrefix`).
    public func startStream(headers: HTTP2ClientRequestHeaders, handler: any HTTP2ClientStreamHandler) throws -> Int32 {
        precondition(loop.inEventLoop)
        guard state == .ready else { throw HTTP2ClientConnectionError.notReady(state) }
        if !peerCheckedThisTick {
            // A peer that died or said GOAWAY a moment ago may have left that in the socket,
            // unread: look first, so the call goes elsewhere instead of into a dead connection.
            peerCheckedThisTick = true
            readPendingInput()
            guard state == .ready else { throw HTTP2ClientConnectionError.notReady(state) }
        }
        guard let session else { throw HTTP2ClientConnectionError.notReady(state) }
        let id: Int32
        do {
            id = try session.submitRequest(headers: headers)
        } catch {
            retire()
            throw error
        }
        handlers[id] = handler
        shared.withLock { $0.streams = handlers.count }
        if session.nearlyOutOfStreamIDs { retire() }
        scheduleFlush()
        armKeepalive()
        return id
    }

    /// Queues request body bytes; returns how many bytes the stream has queued.
    @discardableResult
    public func send(streamID: Int32, _ bytes: [UInt8], endStream: Bool) -> Int {
        guard let session else { return 0 }
        let queued = session.sendData(streamID: streamID, bytes, endStream: endStream)
        scheduleFlush()
        return queued
    }

    public func notifyWhenWritable(streamID: Int32) {
        session?.notifyWhenWritable(streamID: streamID)
        scheduleFlush()  // the event is delivered from the flush path
    }

    public func consume(streamID: Int32, count: Int) {
        session?.consume(streamID: streamID, count: count)
        scheduleFlush()
    }

    public func reset(streamID: Int32, errorCode: HTTP2ClientErrorCode = .cancel) {
        session?.resetStream(streamID: streamID, errorCode: errorCode)
        scheduleFlush()
    }

    /// Takes no new streams from now on (the pool opens a replacement); open ones finish.
    func retire() {
        guard state == .ready, let session else { return }
        session.goAway()
        setState(.draining)
        if handlers.isEmpty { shutdown(HTTP2ClientConnectionError.closedLocally) }
        scheduleFlush()
    }

    // MARK: - State

    func setState(_ new: State) {
        let changed = shared.withLock { s -> Bool in
            guard s.state != new, s.state != .closed else { return false }
            s.state = new
            return true
        }
        if changed { onStateChange(self, new, new == .closed ? closeError : nil) }
    }

    func scheduleFlush() {
        guard !flushScheduled, stream != nil, !handshaking else { return }
        flushScheduled = true
        loop.flushAtTickEnd(self)
    }

    /// Tears the connection down and fails every open stream. `error` is why.
    func shutdown(_ error: any Error) {
        guard state != .closed else { return }
        closeError = error
        for timer in [connectTimer, keepaliveTimer, pingTimeoutTimer] { if let timer { loop.cancelTimer(timer) } }
        connectTimer = nil; keepaliveTimer = nil; pingTimeoutTimer = nil
        if let socket { loop.deregister(socket.fd) }
        stream?.close()
        if stream == nil { socket?.close() }
        stream = nil
        socket = nil
        let orphans = handlers
        handlers = [:]
        shared.withLock { $0.streams = 0 }
        session = nil
        setState(.closed)
        for (id, handler) in orphans.sorted(by: { $0.key < $1.key }) {
            handler.streamClosed(.internalError, unprocessed: id > lastStreamIDWritten)
        }
    }
}

public enum HTTP2ClientConnectionError: Error, Sendable, CustomStringConvertible {
    case notReady(HTTP2ClientConnection.State)
    case connectTimeout(String)
    case connectFailed(String, SocketError)
    case alpnMismatch(String, String?)
    case peerClosed
    case keepaliveTimeout
    case closedLocally

    public var description: String {
        switch self {
        case .notReady(let state): "the connection takes no new streams (\(state))"
        case .connectTimeout(let address): "connecting to \(address) timed out"
        case .connectFailed(let address, let error): "cannot connect to \(address): \(error)"
        case .alpnMismatch(let address, let got): "\(address) did not agree to HTTP/2 over TLS (ALPN: \(got ?? "none"))"
        case .peerClosed: "the server closed the connection"
        case .keepaliveTimeout: "the server did not answer a keepalive PING"
        case .closedLocally: "the connection was closed by this process"
        }
    }
}
