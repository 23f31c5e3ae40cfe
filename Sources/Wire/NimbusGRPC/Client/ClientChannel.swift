import Logging
import NimbusEventLoop
import NimbusHTTP
import NimbusRPCCore
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A gRPC client over HTTP/2 (h2c or TLS) to one service that may run as several replicas.
/// Generated stubs (`XxxClient(transport:)`) and the gateway's pass-through call through it.
///
/// - Calls multiplex over a few long-lived connections per endpoint; endpoints are used
///   round-robin, one that keeps failing is ejected for a cool-down, and a lost connection is
///   re-established with exponential backoff and jitter.
/// - A call the server never saw (connect refused, REFUSED_STREAM, GOAWAY before it) is retried
///   on another endpoint; one that may have reached a handler is never retried.
/// - `CallOptions.timeout` is sent as `grpc-timeout` and enforced here (DEADLINE_EXCEEDED);
///   cancelling the calling task resets the stream (the server handler sees the cancellation).
public final class GRPCChannel: RPCClientTransport {
    public let configuration: Configuration
    let pool: ClientConnectionPool
    /// The loops the channel started itself (nil when it runs on someone else's).
    let ownedGroup: EventLoopGroup?
    let scheme: String
    let authorities: [String]
    let maxAttempts: Int
    let headerPrefixes = ClientHeaderPrefixCache()

    /// Starts `configuration.eventLoopThreads` event loops owned by the channel (stopped by
    /// `close`), or runs on `group`'s loops, which the channel leaves running.
    public convenience init(configuration: Configuration, group: EventLoopGroup? = nil) throws {
        if let group {
            try configuration.validate()
            try self.init(configuration: configuration, loops: group.loops, ownedGroup: nil, tlsContext: Self.makeTLSContext(configuration.tls))
        } else {
            try configuration.validate()
            let tls = try Self.makeTLSContext(configuration.tls)  // fail before starting threads
            let owned = try EventLoopGroup(threads: configuration.eventLoopThreads, name: "nimbus-grpc-client")
            try self.init(configuration: configuration, loops: owned.loops, ownedGroup: owned, tlsContext: tls)
        }
    }

    /// Runs on existing loops, e.g. a server's (`GRPCServer.loops`): a handler that calls an
    /// upstream from its loop then uses a connection on that same loop, with no thread hop.
    public convenience init(configuration: Configuration, loops: [EventLoop]) throws {
        try configuration.validate()
        try self.init(configuration: configuration, loops: loops, ownedGroup: nil, tlsContext: Self.makeTLSContext(configuration.tls))
    }

    private init(configuration: Configuration, loops: [EventLoop], ownedGroup: EventLoopGroup?, tlsContext: TLSContext?) throws {
        Self.ignoreBrokenPipes
        self.configuration = configuration
        guard !loops.isEmpty else { throw ClientConfigurationError.invalid("no event loop to run on") }
        self.ownedGroup = ownedGroup
        scheme = tlsContext == nil ? "http" : "https"
        let targets = configuration.endpoints.map { endpoint in
            ClientConnectionPool.Target(endpoint: endpoint, tls: tlsContext,
                                        serverName: configuration.tls.flatMap { $0.serverName ?? (Self.isIPLiteral(endpoint.host) ? nil : endpoint.host) })
        }
        authorities = targets.map { target in
            target.serverName.map { "\($0):\(target.endpoint.port)" } ?? target.endpoint.description
        }
        var policy = ClientLoadBalancer.Policy()
        policy.backoff = configuration.backoff
        policy.ejectAfterFailures = configuration.ejectAfterFailures
        policy.ejectionCoolDown = configuration.ejectionCoolDown
        policy.maxEjectionCoolDown = configuration.maxEjectionCoolDown
        var options = HTTP2ClientConnection.Options()
        options.connectTimeout = configuration.connectTimeout
        options.keepaliveInterval = configuration.keepalive?.interval
        options.keepaliveTimeout = configuration.keepalive?.timeout ?? .seconds(10)
        pool = ClientConnectionPool(targets: targets, connectionsPerEndpoint: configuration.connectionsPerEndpoint, policy: policy,
                                    loops: loops, connectionOptions: options,
                                    streamsBeforeSpreading: configuration.streamsPerConnectionBeforeSpreading,
                                    logger: configuration.logger ?? Logger(label: "nimbus.grpc.client", factory: { _ in SwiftLogNoOpLogHandler() }))
        maxAttempts = configuration.maxAttempts ?? min(configuration.endpoints.count + 1, 5)
    }

    /// A channel to `endpoints` (`host:port,host:port`), h2c unless `tls` is given.
    public convenience init(endpoints: String, tls: TLS? = nil) throws {
        try self.init(configuration: Configuration(endpoints: endpoints, tls: tls))
    }

    /// Closes every connection at once (open calls fail with UNAVAILABLE) and stops the
    /// channel's own loops. Idempotent; also done when the last reference goes away.
    public func close() {
        pool.close(graceful: false)
        guard let ownedGroup else { return }
        if ownedGroup.loops.contains(where: \.inEventLoop) {
            // On one of our own loops a join would wait for itself: just ask them to stop.
            for loop in ownedGroup.loops { loop.stop() }
        } else {
            ownedGroup.shutdown()
        }
    }

    deinit { close() }

    /// Sends GOAWAY on every connection, lets open calls finish (up to `timeout`), then closes.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        pool.close(graceful: true)
        let giveUp = ContinuousClock.now + timeout
        while pool.openConnectionCount > 0 && ContinuousClock.now < giveUp {
            try? await Task.sleep(for: .milliseconds(20))
        }
        close()
    }

    /// Connections ready for new calls (for tests and metrics).
    public var connectionCount: Int { pool.readyConnectionCount }

    // MARK: - RPCClientTransport

    public func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        guard request.count <= configuration.maxSendMessageSize else {
            throw RPCError(.resourceExhausted, "request message of \(request.count) bytes exceeds the limit of \(configuration.maxSendMessageSize) bytes")
        }
        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        let body = ClientWireFormat.frame(request)
        var excluded = Set<Int>()
        var lastError: RPCError?
        for attempt in 0..<maxAttempts {
            var started: (ClientCall, Int)?
            var firstPick: ClientLoadBalancer.Pick?
            if attempt == 0 {
                switch try startCallInPlace(method, options: options, deadline: deadline, body: body,
                                            excluded: &excluded, lastError: &lastError) {
                case .started(let call, let endpoint): started = (call, endpoint)
                case .fallBack(let pick): firstPick = pick
                }
            }
            let call: ClientCall, endpoint: Int
            if let started {
                (call, endpoint) = started
            } else {
                (call, endpoint) = try await startCall(method, options: options, deadline: deadline, body: body,
                                                       excluded: &excluded, lastError: &lastError, firstPick: firstPick)
            }
            do {
                let response = try await withTaskCancellationHandler {
                    try await call.unaryResponse()
                } onCancel: {
                    call.cancel()
                }
                pool.recordCallOutcome(endpoint: endpoint, failed: false)
                return response
            } catch let error as RPCError {
                let status = call.status
                if status?.retryable == true {
                    pool.recordCallOutcome(endpoint: endpoint, failed: true)
                    excluded.insert(endpoint)
                    lastError = error
                    if attempt + 1 < maxAttempts && !Task.isCancelled { continue }
                } else if error.code == .unavailable {
                    pool.recordCallOutcome(endpoint: endpoint, failed: true)
                } else {
                    pool.recordCallOutcome(endpoint: endpoint, failed: false)
                }
                throw error
            }
        }
        throw lastError ?? RPCError(.unavailable, "no endpoint took the call")
    }

    public func streaming<Result: Sendable>(
        _ method: MethodDescriptor,
        options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result {
        try await streamingCall(method, options: options, requests: requests) { call in
            try await responses(RPCMessageStream { try await call.nextMessage() })
        }.result
    }

    /// `streaming` that also hands over the response metadata, for pass-through proxies (the
    /// gateway): `responses` can await the response headers before the first message; the
    /// trailers come back with the result (a non-OK status still throws an `RPCError` carrying them).
    public func proxyStreaming<Result: Sendable>(
        _ method: MethodDescriptor,
        options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (_ messages: RPCMessageStream<[UInt8]>, _ headers: @escaping @Sendable () async -> Metadata) async throws -> Result
    ) async throws -> (result: Result, trailingMetadata: Metadata) {
        try await streamingCall(method, options: options, requests: requests) { call in
            try await responses(RPCMessageStream { try await call.nextMessage() }, { await call.responseHeaders() })
        }
    }

    private func streamingCall<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (ClientCall) async throws -> Result
    ) async throws -> (result: Result, trailingMetadata: Metadata) {
        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        var excluded = Set<Int>()
        var lastError: RPCError?
        let (call, endpoint) = try await startCall(method, options: options, deadline: deadline, body: nil,
                                                   excluded: &excluded, lastError: &lastError)
        let maxSend = configuration.maxSendMessageSize
        do {
            let result = try await withTaskCancellationHandler {
                try await Self.runStreaming(call, maxSend: maxSend, requests: requests, responses: responses)
            } onCancel: {
                call.cancel()
            }
            pool.recordCallOutcome(endpoint: endpoint, failed: false)
            return (result, call.status?.trailers ?? [:])
        } catch let error as RPCError where error.code == .unavailable {
            pool.recordCallOutcome(endpoint: endpoint, failed: true)
            throw error
        }
    }

    static func makeTLSContext(_ tls: TLS?) throws -> TLSContext? {
        guard let tls else { return nil }
        do {
            return try TLSContext.client(.init(trustRootsPath: tls.caFile, certificateChainPath: tls.certificateFile,
                                               privateKeyPath: tls.privateKeyFile, verifyPeer: tls.verifyPeer, alpn: ["h2"]))
        } catch {
            throw ClientConfigurationError.tls("\(error)")
        }
    }

    /// A write to a socket the peer already closed must be an error (EPIPE), not a process-ending
    /// SIGPIPE: a server restarting under us is routine for a client.
    static let ignoreBrokenPipes: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    static func isIPLiteral(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
