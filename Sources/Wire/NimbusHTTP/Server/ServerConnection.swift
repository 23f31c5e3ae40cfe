import Logging
import NimbusEventLoop

/// One accepted connection on one loop: TLS handshake, HTTP/2-preface sniffing, then a codec.
/// Reads feed the codec; output is flushed once per loop tick.
final class ServerConnection: EventLoopIOHandler, EventLoopFlushable {
    let loop: EventLoop
    let stream: ByteStream
    let peerDescription: String
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    @exclusivity(unchecked) private(set) var peerCertificateSubject: String?
    /// Strong (was `unowned`); the loop state's map of connections is the other half of the
    /// cycle, broken in `close()`.
    private let owner: ServerLoopState
    @exclusivity(unchecked) private var codec: (any ConnectionCodec)?
    @exclusivity(unchecked) private var handshaking: Bool
    @exclusivity(unchecked) private var sniffed: [UInt8] = []
    @exclusivity(unchecked) private var outbound = OutboundBuffer()
    @exclusivity(unchecked) private var flushScheduled = false
    @exclusivity(unchecked) private var writeArmed = false
    /// Reads paused for backpressure (the codec does not want input now).
    @exclusivity(unchecked) private var readPaused = false
    @exclusivity(unchecked) private(set) var isClosed = false
    @exclusivity(unchecked) private var shutdownRequested = false

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    init(loop: EventLoop, stream: ByteStream, peer: SocketAddress, owner: ServerLoopState) {
        self.loop = loop
        self.stream = stream
        self.peerDescription = peer.description
        self.owner = owner
        self.handshaking = stream.tls != nil
    }

    var isIdle: Bool { codec?.isIdle ?? true }

    func start() throws {
        try loop.register(stream.socket.fd, events: .readable, handler: self)
        if handshaking { continueHandshake() }
    }

    // MARK: I/O

    func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        if isClosed { return }
        if handshaking {
            continueHandshake()
            return
        }
        if writable { scheduleFlush() }
        if readPaused {
            if hangup { close() }  // the peer is gone; nothing more will be read or written
            return
        }
        if readable { readAvailable() }
    }

    private func continueHandshake() {
        do {
            switch try stream.tls!.handshake() {
            case .complete:
                handshaking = false
                peerCertificateSubject = stream.tls!.peerCertificateSubject
                setWriteInterest(false)
                readAvailable()  // the client may have sent data along with its Finished
            case .wantRead:
                setWriteInterest(false)
            case .wantWrite:
                setWriteInterest(true)
            }
        } catch {
            owner.logger.debug("TLS handshake failed", metadata: ["peer": "\(peerDescription)", "error": "\(error)"])
            close()
        }
    }

    private func readAvailable() {
        let buffer = owner.readBuffer
        do {
            while !isClosed {
                if let codec, !codec.wantsRead {
                    setReadPaused(true)
                    return
                }
                switch try stream.read(into: buffer) {
                case .bytes(let n):
                    try deliver(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    if stream.tls == nil && n < buffer.count { scheduleFlush(); return }
                case .wouldBlock(let wantsWrite):
                    if wantsWrite { setWriteInterest(true) }
                    scheduleFlush()
                    return
                case .eof:
                    close()
                    return
                }
            }
        } catch {
            owner.logger.debug("connection failed", metadata: ["peer": "\(peerDescription)", "error": "\(error)"])
            // Try to get a GOAWAY or error response out before closing.
            flushAtTickEnd()
            close()
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) throws {
        if let codec {
            try codec.receive(bytes)
            return
        }
        // Sniff: the HTTP/2 client preface selects HTTP/2, anything else is HTTP/1.1.
        sniffed.append(contentsOf: bytes)
        let preface = Self.preface
        let compared = min(sniffed.count, preface.count)
        if sniffed[0..<compared].elementsEqual(preface[0..<compared]) {
            if compared < preface.count { return }
            codec = try HTTP2ServerSession(connection: self, router: owner.server.router, settings: owner.server.configuration.http2)
        } else {
            codec = HTTP1ServerConnection(connection: self, handler: owner.server.http1Handler, limits: owner.server.configuration.http1)
        }
        let buffered = sniffed
        sniffed = []
        if shutdownRequested { codec!.beginGracefulShutdown() }
        try buffered.withUnsafeBytes { try codec!.receive($0) }
    }

    // MARK: output

    func scheduleFlush() {
        guard !flushScheduled, !isClosed else { return }
        flushScheduled = true
        loop.flushAtTickEnd(self)
    }

    func flushAtTickEnd() {
        flushScheduled = false
        guard !isClosed, !handshaking else { return }
        do {
            while true {
                if let codec { try codec.produceOutput(into: &outbound) }
                if outbound.isEmpty { break }
                if try !outbound.flush(to: stream) {
                    setWriteInterest(true)
                    return
                }
                if !(codec?.hasMoreOutput ?? false) { break }
            }
            setWriteInterest(false)
            if let codec, codec.wantsClose { close() }
        } catch {
            owner.logger.debug("write failed", metadata: ["peer": "\(peerDescription)", "error": "\(error)"])
            close()
        }
    }

    private func setWriteInterest(_ on: Bool) {
        guard on != writeArmed, !isClosed else { return }
        writeArmed = on
        updateInterest()
    }

    private func setReadPaused(_ paused: Bool) {
        guard paused != readPaused, !isClosed else { return }
        readPaused = paused
        updateInterest()
    }

    private func updateInterest() {
        var events: IOEvents = readPaused ? [] : .readable
        if writeArmed { events.insert(.writable) }
        try? loop.modify(stream.socket.fd, events: events)
    }

    /// The codec's `wantsRead` changed: resume (or pause) reading. Resuming reads at once,
    /// since TLS may hold decrypted bytes the socket's readiness will not announce.
    func readInterestChanged() {
        guard !isClosed, let codec else { return }
        if codec.wantsRead && readPaused {
            setReadPaused(false)
            loop.executeInLoop { [self] in if !isClosed && !readPaused { readAvailable() } }
        } else if !codec.wantsRead && !readPaused {
            setReadPaused(true)
        }
    }

    // MARK: lifecycle

    func beginGracefulShutdown() {
        shutdownRequested = true
        if let codec {
            codec.beginGracefulShutdown()
        } else {
            close()  // not yet speaking a protocol: nothing to drain
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        loop.deregister(stream.socket.fd)
        // Unread input makes close() send RST, which can destroy our last frames (GOAWAY, an
        // error response) before the peer reads them: swallow what is pending first.
        let buffer = owner.readBuffer
        for _ in 0..<16 {
            guard case .bytes = (try? stream.socket.read(into: buffer)) ?? .eof else { break }
        }
        stream.close()
        codec?.connectionClosed()
        codec = nil
        owner.connectionClosed(self)
    }
}
