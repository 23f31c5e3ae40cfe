import NimbusEventLoop

/// The HTTP/1.1 side of a server connection: parse, run the handler as a task on the
/// connection's loop, answer in order (pipelined requests wait their turn), keep-alive.
final class HTTP1ServerConnection: ConnectionCodec, @unchecked Sendable {
    // @unchecked: touched only on the connection's loop; the handler task is pinned there
    // (executor preference) and hops back with `loop.execute` if it ever is not.
    /// Strong (was `unowned`): the in-flight handler task holds this codec and may finish
    /// after the connection closed. The cycle with `ServerConnection.codec` is broken by
    /// `ServerConnection.close()`, and `respond` does nothing once `connectionClosed` ran.
    private let connection: ServerConnection
    private let handler: HTTP1Handler
    private var parser: HTTP1RequestParser
    private var pending: [UInt8] = []
    private var inFlight: Task<Void, Never>?
    private var closing = false
    private var shuttingDown = false

    init(connection: ServerConnection, handler: @escaping HTTP1Handler, limits: HTTP1Limits) {
        self.connection = connection
        self.handler = handler
        self.parser = HTTP1RequestParser(limits: limits)
    }

    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closing else { return }
        parser.append(bytes)
        processNext()
    }

    private func processNext() {
        guard inFlight == nil, !closing else { return }
        let next: HTTPRequest?
        do {
            next = try parser.next()
        } catch {
            var response = HTTPResponse.text(error.status, "\(error.reason)\n")
            response.headers.add("x-nimbus-error", "malformed-request")
            response.headers.add("x-request-id", RequestIdentity.newRequestID())
            pending.append(contentsOf: response.serialized(keepAlive: false))
            closing = true
            connection.scheduleFlush()
            return
        }
        guard var parsed = next else {
            if shuttingDown && parser.bufferedByteCount == 0 { closing = true; connection.scheduleFlush() }
            return
        }
        parsed.peer = connection.peerDescription
        let request = parsed
        let loop = connection.loop
        let handler = self.handler
        inFlight = Task(executorPreference: loop) { [self] in
            let response = await handler(request)
            if loop.inEventLoop {
                self.respond(request, response)
            } else {
                loop.execute { self.respond(request, response) }
            }
        }
    }

    private func respond(_ request: HTTPRequest, _ response: HTTPResponse) {
        guard inFlight != nil else { return }  // connection closed meanwhile
        inFlight = nil
        let keepAlive = request.keepAlive && !shuttingDown
        pending.append(contentsOf: response.serialized(keepAlive: keepAlive, headRequest: request.method == "HEAD"))
        if !keepAlive { closing = true }
        connection.scheduleFlush()
        processNext()
    }

    func produceOutput(into buffer: inout OutboundBuffer) throws {
        if pending.isEmpty { return }
        buffer.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: pending.capacity <= 64 << 10)
    }

    var hasMoreOutput: Bool { !pending.isEmpty }
    var wantsClose: Bool { closing && pending.isEmpty }
    var isIdle: Bool { inFlight == nil }

    func beginGracefulShutdown() {
        shuttingDown = true
        if inFlight == nil {
            closing = true
            connection.scheduleFlush()
        }
    }

    func connectionClosed() {
        inFlight?.cancel()
        inFlight = nil
    }
}
