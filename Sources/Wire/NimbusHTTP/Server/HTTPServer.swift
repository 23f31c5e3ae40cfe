import Logging
import NimbusEventLoop
import Synchronization
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Where and how an `HTTPServer` listens.
public struct HTTPServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (read it back from `HTTPServer.port`).
    public var port: Int = 0
    /// Event loops (threads), one listener each via SO_REUSEPORT.
    public var threads: Int = 1
    /// TLS 1.2+ with ALPN h2/http1.1; nil serves cleartext (h2c with prior knowledge + HTTP/1.1).
    public var tls: TLSContext.ServerConfiguration?
    public var http2 = HTTP2Settings()
    public var http1 = HTTP1Limits()
    /// Also accept on this Unix-domain socket (same-host clients skip TCP/IP; the file is
    /// replaced on start and removed on shutdown).
    public var unixSocketPath: String?

    public init(host: String = "127.0.0.1", port: Int = 0, threads: Int = 1) {
        self.host = host
        self.port = port
        self.threads = threads
    }
}

/// A server on N event loops that speaks HTTP/2 (to a router, e.g. gRPC) and HTTP/1.1 (to a
/// handler) on the same port, telling them apart by the HTTP/2 client preface.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let router: any HTTP2RequestRouter
    let http1Handler: HTTPStreamingHandler
    let logger: Logger
    let tlsContext: TLSContext?
    private let group: EventLoopGroup
    private let states: [ServerLoopState]
    private let boundPort = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// HTTP/1.1 requests go to a buffered handler (bodies up to `configuration.http1.maxBodyBytes`).
    public convenience init(configuration: HTTPServerConfiguration, router: any HTTP2RequestRouter, http1: @escaping HTTP1Handler,
                            logger: Logger = Logger(label: "nimbus.http")) throws {
        try self.init(configuration: configuration, router: router,
                      streaming: HTTPStreaming.handler(buffered: http1, maxBodyBytes: configuration.http1.maxBodyBytes),
                      logger: logger)
    }

    /// HTTP/1.1 requests go to a streaming handler (bodies of any length, streamed both ways).
    public init(configuration: HTTPServerConfiguration, router: any HTTP2RequestRouter, streaming: @escaping HTTPStreamingHandler,
                logger: Logger = Logger(label: "nimbus.http")) throws {
        self.configuration = configuration
        self.router = router
        self.http1Handler = streaming
        self.logger = logger
        self.tlsContext = try configuration.tls.map { try TLSContext.server($0) }
        self.group = try EventLoopGroup(threads: configuration.threads, name: "nimbus-server")
        self.states = group.loops.map { ServerLoopState(loop: $0, logger: logger) }
        for state in states { state.server = self }
    }

    /// The event loops, e.g. to run work next to the connections.
    public var loops: [EventLoop] { group.loops }

    /// The port actually bound (after `start`).
    public var port: Int { boundPort.load(ordering: .relaxed) }

    /// Binds one listener per loop and starts accepting.
    public func start() async throws {
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        let first = try Socket.listen(on: address, reusePort: true)
        let port = try first.localAddress().port
        boundPort.store(port, ordering: .relaxed)
        var listeners = [first]
        do {
            let shared = try SocketAddress(host: configuration.host, port: port)
            for _ in 1..<states.count { listeners.append(try Socket.listen(on: shared, reusePort: true)) }
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        for (state, listener) in zip(states, listeners) {
            try await state.loop.submit { try state.startListening(listener) }
        }
        if let path = configuration.unixSocketPath {
            let listener = try Socket.listen(on: try .unix(path))
            try await states[0].loop.submit { try self.states[0].startListening(listener) }
        }
        logger.info("listening", metadata: [
            "server.address": "\(configuration.host):\(port)", "server.threads": "\(states.count)",
            "server.tls": "\(configuration.tls != nil)",
        ])
    }

    /// Stops accepting, sends GOAWAY and lets in-flight requests finish for up to
    /// `gracePeriod`, then closes whatever remains and stops the loops.
    public func shutdown(gracePeriod: Duration) async {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        for state in states { state.loop.execute { state.beginShutdown() } }
        let deadline = ContinuousClock.now + gracePeriod
        while ContinuousClock.now < deadline {
            var open = 0
            for state in states { open += (try? await state.loop.submit { state.connectionCount }) ?? 0 }
            if open == 0 { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        for state in states { _ = try? await state.loop.submit { state.closeAll() } }
        if let path = configuration.unixSocketPath { unlink(path) }
        group.shutdown()
        logger.info("stopped", metadata: ["server.port": "\(port)"])
    }
}

/// Per-loop server state: the listener and the connections it accepted. Loop-confined.
final class ServerLoopState: EventLoopIOHandler, @unchecked Sendable {
    let loop: EventLoop
    let logger: Logger
    unowned(unsafe) var server: HTTPServer!
    private var listeners: [Socket] = []
    private var connections: [ObjectIdentifier: ServerConnection] = [:]
    /// One read buffer shared by all connections of this loop.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    init(loop: EventLoop, logger: Logger) {
        self.loop = loop
        self.logger = logger
    }

    deinit { readBuffer.deallocate() }

    var connectionCount: Int { connections.count }

    func startListening(_ socket: Socket) throws {
        listeners.append(socket)
        try loop.register(socket.fd, events: .readable, handler: self)
    }

    func handleIO(readable: Bool, writable: Bool, hangup: Bool) {
        for listener in listeners { acceptAll(listener) }
    }

    private func acceptAll(_ listener: Socket) {
        while true {
            let accepted: (socket: Socket, peer: SocketAddress)?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: log and try again on the next readiness.
                logger.warning("accept failed", metadata: ["error": "\(error)"])
                return
            }
            guard let (socket, peer) = accepted else { return }
            let connection: ServerConnection
            do {
                try socket.setNoDelay()
                let tls = try server.tlsContext.map { try TLSConnection(context: $0, socket: socket) }
                connection = ServerConnection(loop: loop, stream: ByteStream(socket: socket, tls: tls), peer: peer, owner: self)
            } catch {
                logger.warning("cannot set up connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
                socket.close()
                continue
            }
            connections[ObjectIdentifier(connection)] = connection
            do {
                try connection.start()
            } catch {
                logger.warning("cannot register connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
                connection.close()
            }
        }
    }

    func connectionClosed(_ connection: ServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    func beginShutdown() {
        for listener in listeners {
            loop.deregister(listener.fd)
            listener.close()
        }
        listeners = []
        for connection in Array(connections.values) { connection.beginGracefulShutdown() }
    }

    func closeAll() {
        for connection in Array(connections.values) { connection.close() }
    }
}
