import NimbusHTTP
import NimbusRPCCore
import ServiceLifecycle

/// What a service contributes to its process: RPC services to host, an optional HTTP/1.1
/// face beyond the operational endpoints (the gateway's REST), background workers run and
/// stopped with the server, and readiness checks beyond the database ping.
public struct ServiceParts: Sendable {
    public var services: [any RPCService]
    public var http1: HTTP1Handler?
    /// An HTTP/1.1 face with streamed bodies (S3, the gateway's pass-through); takes
    /// precedence over `http1`.
    public var streaming: HTTPStreamingHandler?
    public var background: [any Service]
    public var readinessChecks: [@Sendable () async -> Bool]

    public init(services: [any RPCService] = [], http1: HTTP1Handler? = nil, streaming: HTTPStreamingHandler? = nil,
                background: [any Service] = [], readinessChecks: [@Sendable () async -> Bool] = []) {
        self.services = services
        self.http1 = http1
        self.streaming = streaming
        self.background = background
        self.readinessChecks = readinessChecks
    }
}
