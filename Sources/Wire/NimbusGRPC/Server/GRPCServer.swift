import Logging
import NimbusEventLoop
import NimbusHTTP
import NimbusProto
import NimbusRPCCore
import Synchronization

/// A gRPC server over HTTP/2 (h2c with prior knowledge, or TLS with ALPN h2 and optional
/// mTLS) hosting `services`, and on the same port an HTTP/1.1 server answering `/healthz`,
/// `/readyz`, `/metrics` and whatever `http1` serves (the gateway's REST face).
///
///     let server = try GRPCServer(configuration: config, services: [users, health.service])
///     try await server.run()   // until cancelled or `shutdown(gracePeriod:)`
public final class GRPCServer: Sendable {
    public let configuration: GRPCServerConfiguration
    private let http: HTTPServer
    private let state = Mutex<State>(State())
    private let logger: Logger

    private struct State {
        var started = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The serving status behind `grpc.health.v1.Health` (flip it while draining or when a
    /// dependency is down).
    public let health: HealthStatusProvider

    /// - Parameters:
    ///   - services: the application's services; `grpc.health.v1.Health` and server
    ///     reflection (v1 and v1alpha) are added.
    ///   - http1: serves HTTP/1.1 requests other than the operational endpoints (404 if nil).
    ///   - operational: readiness and metrics behind `/readyz` and `/metrics`; by default
    ///     readiness is the health status of the server ("") and metrics are empty.
    ///   - health: a status provider to share; by default one with every service SERVING.
    ///   - streaming: serves them with streamed bodies instead (HTTP/1.1; over HTTP/2 the
    ///     body is buffered up to the HTTP/1.1 limit). Takes precedence over `http1`.
    public init(configuration: GRPCServerConfiguration, services: [any RPCService], http1: HTTP1Handler? = nil,
                streaming: HTTPStreamingHandler? = nil,
                operational: HTTPOperationalEndpoints? = nil, health: HealthStatusProvider? = nil,
                logger: Logger = Logger(label: "nimbus.grpc")) throws {
        self.configuration = configuration
        self.logger = logger
        let health = health ?? HealthStatusProvider(services: services.map(\.serviceName))
        self.health = health
        let hosted: [any RPCService] = services + [GRPCHealthService(provider: health)]
        // The reflection services describe themselves too, so tools can discover them.
        let described = hosted + [GRPCReflectionService(services: []), GRPCReflectionServiceV1Alpha(services: [])]
        let all = hosted + [GRPCReflectionService(services: described), GRPCReflectionServiceV1Alpha(services: described)]
        let endpoints = operational ?? HTTPOperationalEndpoints(readiness: { health.status(for: "") == .serving })
        if let streaming {
            let plainHTTP = endpoints.streamingHandler(fallback: streaming)
            let router = GRPCRouter(services: all, configuration: configuration,
                                    plainHTTP: HTTPStreaming.buffered(plainHTTP), logger: logger)
            http = try HTTPServer(configuration: configuration.httpConfiguration, router: router,
                                  streaming: plainHTTP, logger: logger)
        } else {
            let plainHTTP = endpoints.handler(fallback: http1)
            let router = GRPCRouter(services: all, configuration: configuration, plainHTTP: plainHTTP, logger: logger)
            http = try HTTPServer(configuration: configuration.httpConfiguration, router: router,
                                  http1: plainHTTP, logger: logger)
        }
    }

    /// The bound port (after `start`).
    public var port: Int { http.port }

    /// The server's event loops (e.g. to pin related work next to the connections).
    public var loops: [EventLoop] { http.loops }

    /// Binds and starts accepting; returns at once.
    public func start() async throws {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        try await http.start()
    }

    /// Starts (if needed) and serves until `shutdown` finishes. Cancelling the calling task
    /// shuts down gracefully with a 10 s grace period.
    public func run() async throws {
        try await start()
        await withTaskCancellationHandler {
            await waitUntilFinished()
        } onCancel: {
            Task { await self.shutdown(gracePeriod: .seconds(10)) }
        }
    }

    /// GOAWAY to every client, in-flight calls drain for up to `gracePeriod`, then the rest
    /// is cancelled and the loops stop.
    public func shutdown(gracePeriod: Duration) async {
        health.enterShutdown()
        await http.shutdown(gracePeriod: gracePeriod)
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitUntilFinished() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
