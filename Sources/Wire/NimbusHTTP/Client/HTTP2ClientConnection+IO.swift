import NimbusEventLoop
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// The loop-thread half of HTTP2ClientConnection: connect, TLS handshake, read → nghttp2 →
// stream handlers, and one coalesced write per tick.
extension HTTP2ClientConnection: EventLoopIOHandler, EventLoopFlushable {
    func start() {
        do {
            let (socket, connected) = try Socket.connect(to: address)
            self.socket = socket
            try? socket.setNoDelay()
            try loop.register(socket.fd, events: connected ? .readable : [.readable, .writable], handler: self)
            connectTimer = loop.scheduleTimer(after: options.connectTimeout) { [self] in
                connectTimer = nil
                if state == .connecting { shutdown(HTTP2ClientConnectionError.connectTimeout(address.description)) }
            }
            if connected { try socketConnected() }
        } catch let error as SocketError {
            shutdown(HTTP2ClientConnectionError.connectFailed(address.description, error))
        } catch {
            shutdown(error)
        }
    }

    /// TCP is up: wrap in TLS (handshake first) or start HTTP/2 at once.
    func socketConnected() throws {
        guard let socket else { return }
        if let tlsContext {
            let tls = try TLSConnection(context: tlsContext, socket: socket, serverName: serverName)
            stream = ByteStream(socket: socket, tls: tls)
            handshaking = true
            try continueHandshake()
        } else {
            stream = ByteStream(socket: socket, tls: nil)
            // Writability was only wanted for the connect; left armed it would spin the loop.
            try loop.modify(socket.fd, events: .readable)
            try sessionReady()
        }
    }

    func continueHandshake() throws {
        guard let tls = stream?.tls, let socket else { return }
        switch try tls.handshake() {
        case .wantRead:
            try loop.modify(socket.fd, events: .readable)
        case .wantWrite:
            try loop.modify(socket.fd, events: [.readable, .writable])
        case .complete:
            handshaking = false
            guard tls.negotiatedALPN == "h2" else {
                throw HTTP2ClientConnectionError.alpnMismatch(address.description, tls.negotiatedALPN)
            }
            try loop.modify(socket.fd, events: .readable)
            try sessionReady()
        }
    }

    func sessionReady() throws {
        session = try HTTP2ClientSession(settings: options.session)
        if let connectTimer { loop.cancelTimer(connectTimer) }
        connectTimer = nil
        setState(.ready)
        scheduleFlush()  // the client preface
    }

    public func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        do {
            if state == .connecting && stream == nil {
                guard let socket else { return }
                let error = socket.pendingError()
                if error != 0 { throw HTTP2ClientConnectionError.connectFailed(address.description, SocketError(call: "connect", errno: error)) }
                try socketConnected()
                return
            }
            if handshaking {
                try continueHandshake()
                if handshaking { return }
            }
            if writable && waitingForWritable {
                waitingForWritable = false
                flushAtTickEnd()
            }
            if readable { try readAll() }
        } catch {
            shutdown(error)
        }
    }

    /// Reads whatever the peer already sent (EOF and GOAWAY included) without waiting for
    /// the loop to report it. When the loop's `epoll_wait` of this tick did not report the
    /// socket (or it was handled already) nothing was pending then and no system call is
    /// spent; otherwise MSG_PEEK keeps the check to one syscall.
    func readPendingInput() {
        guard let socket, stream != nil, !handshaking else { return }
        if !loop.hasUnhandledEvent(for: socket.fd) { return }
        var byte: UInt8 = 0
        let n = recv(socket.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n < 0 {
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { return }
            shutdown(SocketError(call: "recv", errno: error))
            return
        }
        do {
            try readAll()
        } catch {
            shutdown(error)
        }
    }

    private func readAll() throws {
        guard let stream, let session else { return }
        while true {
            let result = try readBuffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            switch result {
            case .bytes(let n):
                try readBuffer.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                // Frames without an event (WINDOW_UPDATE, PING) may still unblock or need output.
                scheduleFlush()
                dispatchEvents(session)
                if self.session == nil { return }  // a handler closed us
                if n < readBuffer.count && stream.tls == nil { return }
            case .wouldBlock(let wantsWrite):
                if wantsWrite, let socket {
                    waitingForWritable = true
                    try loop.modify(socket.fd, events: [.readable, .writable])
                }
                scheduleFlush()
                return
            case .eof:
                throw HTTP2ClientConnectionError.peerClosed
            }
        }
    }

    /// Hands the session's events to the streams through a reused batch buffer (a re-entrant
    /// call, should a handler cause one, finds the spare taken and uses a fresh array).
    func dispatchEvents(_ session: HTTP2ClientSession) {
        guard session.hasEvents else { return }
        var batch: [HTTP2ClientEvent] = []
        swap(&batch, &spareEvents)
        session.takeEvents(into: &batch)
        dispatch(batch)
        batch.removeAll(keepingCapacity: true)
        spareEvents = batch
    }

    func dispatch(_ events: [HTTP2ClientEvent]) {
        guard !events.isEmpty else { return }
        scheduleFlush()
        for event in events {
            switch event {
            case .headers(let id, let fields, let endStream):
                handlers[id]?.receivedHeaders(fields, endStream: endStream)
            case .data(let id, let bytes):
                handlers[id]?.receivedData(bytes)
            case .endOfData(let id):
                handlers[id]?.receivedEndOfData()
            case .closed(let id, let code):
                if let handler = handlers.removeValue(forKey: id) {
                    shared.withLock { $0.streams = handlers.count }
                    handler.streamClosed(code, unprocessed: code == .refusedStream || id > lastStreamIDWritten)
                }
                if state == .draining && handlers.isEmpty { shutdown(HTTP2ClientConnectionError.closedLocally) }
            case .goAway(let lastStreamID, _):
                setState(.draining)
                // nghttp2 closes streams above lastStreamID with REFUSED_STREAM itself.
                _ = lastStreamID
                if handlers.isEmpty { shutdown(HTTP2ClientConnectionError.peerClosed) }
            case .writable(let id):
                handlers[id]?.streamWritable()
            case .pingAck:
                if let pingTimeoutTimer { loop.cancelTimer(pingTimeoutTimer) }
                pingTimeoutTimer = nil
            case .settings:
                break
            }
        }
    }

    /// Serializes what nghttp2 has ready and writes it once; waits for writability when the
    /// socket is full.
    public func flushAtTickEnd() {
        flushScheduled = false
        peerCheckedThisTick = false
        guard let stream, let session, !handshaking else { return }
        do {
            while true {
                if outbound.pendingCount < 256 << 10 {
                    let before = outbound.pendingCount
                    try session.drainOutput(into: &outbound, limit: before + (256 << 10))
                    dispatchEvents(session)
                    if outbound.pendingCount != before { pendingHeadersMark = session.lastHeadersSentStreamID }
                }
                if outbound.isEmpty { break }
                guard try outbound.flush(to: stream) else {
                    if !waitingForWritable, let socket {
                        waitingForWritable = true
                        try loop.modify(socket.fd, events: [.readable, .writable])
                    }
                    return
                }
                lastStreamIDWritten = pendingHeadersMark
                if !session.wantsWrite { break }
            }
            if waitingForWritable, let socket {
                waitingForWritable = false
                try loop.modify(socket.fd, events: .readable)
            }
            if !session.wantsRead && !session.wantsWrite {
                shutdown(state == .draining ? HTTP2ClientConnectionError.closedLocally : HTTP2ClientConnectionError.peerClosed)
            }
        } catch {
            shutdown(error)
        }
    }

    // MARK: - Keepalive

    private func keepaliveTick() {
        guard state == .ready || state == .draining, !handlers.isEmpty, let session else { return }
        session.ping()
        scheduleFlush()
        if pingTimeoutTimer == nil {
            pingTimeoutTimer = loop.scheduleTimer(after: options.keepaliveTimeout) { [self] in
                pingTimeoutTimer = nil
                loop.executeInLoop { [self] in shutdown(HTTP2ClientConnectionError.keepaliveTimeout) }
            }
        }
        armKeepalive()
    }

    func armKeepalive() {
        guard keepaliveTimer == nil, let interval = options.keepaliveInterval else { return }
        // Timer bodies hop to the loop's work queue before touching timers again: scheduling or
        // cancelling from inside a firing timer would re-enter the loop's timer queue.
        keepaliveTimer = loop.scheduleTimer(after: interval) { [self] in
            keepaliveTimer = nil
            loop.executeInLoop { [self] in keepaliveTick() }
        }
    }
}
