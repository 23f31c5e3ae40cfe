import NimbusEventLoop
import NimbusHTTP

/// Everything a gRPC server needs to know to listen and enforce limits.
public struct GRPCServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (read it back from `GRPCServer.port`).
    public var port: Int = 0
    /// Event loops; each owns its connections and runs their handlers.
    public var threads: Int = 1
    public var tls: TLS?
    /// Largest request message accepted (checked on the length prefix, before buffering).
    public var maxReceiveMessageSize: Int = 4 << 20
    /// Largest response message sent; a bigger one fails the call with RESOURCE_EXHAUSTED.
    public var maxSendMessageSize: Int = 64 << 20
    public var maxConcurrentStreams: UInt32 = 1024
    /// Per-stream flow-control window; the peer can have this much unread data in flight.
    public var initialWindowSize: UInt32 = 1 << 20
    public var keepaliveInterval: Duration? = .seconds(60)
    public var keepaliveTimeout: Duration = .seconds(20)
    public var idleTimeout: Duration? = .seconds(300)
    public var http1Limits = HTTP1Limits()
    /// Log one structured line per call (level info).
    public var accessLog: Bool = true
    /// Run handlers as tasks on the connection's event loop (a TaskExecutor), so a request
    /// never changes thread; false runs them on Swift's global pool and hops back for I/O.
    /// Handlers must not block either way (blocking work belongs in a pool like libpq's).
    public var runHandlersOnEventLoop: Bool = true

    public struct TLS: Sendable {
        public var certificateChainPath: String
        public var privateKeyPath: String
        /// Verify client certificates against this CA bundle (mTLS).
        public var clientCAPath: String?
        public var requireClientCertificate: Bool

        public init(certificateChainPath: String, privateKeyPath: String, clientCAPath: String? = nil,
                    requireClientCertificate: Bool = true) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
            self.clientCAPath = clientCAPath
            self.requireClientCertificate = requireClientCertificate
        }
    }

    public init(host: String = "127.0.0.1", port: Int = 0, threads: Int = 1, tls: TLS? = nil) {
        self.host = host
        self.port = port
        self.threads = threads
        self.tls = tls
    }

    var httpConfiguration: HTTPServerConfiguration {
        var http = HTTPServerConfiguration(host: host, port: port, threads: threads)
        http.tls = tls.map {
            TLSContext.ServerConfiguration(
                certificateChainPath: $0.certificateChainPath, privateKeyPath: $0.privateKeyPath,
                clientCAPath: $0.clientCAPath, requireClientCertificate: $0.requireClientCertificate)
        }
        http.http2.maxConcurrentStreams = maxConcurrentStreams
        http.http2.initialWindowSize = initialWindowSize
        http.http2.keepaliveInterval = keepaliveInterval
        http.http2.keepaliveTimeout = keepaliveTimeout
        http.http2.idleTimeout = idleTimeout
        http.http1 = http1Limits
        return http
    }
}
