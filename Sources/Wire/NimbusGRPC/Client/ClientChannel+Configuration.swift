import Logging
import NimbusHTTP

extension GRPCChannel {
    /// How a channel reaches its service. Validated once by `GRPCChannel.init`.
    public struct Configuration: Sendable {
        /// Replicas of the service; calls are spread round-robin over the healthy ones.
        public var endpoints: [ClientEndpoint]
        /// nil: h2c (HTTP/2 over plain TCP, prior knowledge). Set: TLS with ALPN `h2`.
        public var tls: TLS?
        /// Largest response message accepted (larger ones end the call with RESOURCE_EXHAUSTED
        /// before they are buffered).
        public var maxReceiveMessageSize = 4 << 20
        /// Largest request message sent (larger ones fail locally with RESOURCE_EXHAUSTED).
        public var maxSendMessageSize = 4 << 20
        /// Long-lived HTTP/2 connections kept per endpoint; each multiplexes many calls, and a
        /// new one opens once the others carry `streamsPerConnectionBeforeSpreading` calls.
        public var connectionsPerEndpoint = 2
        public var streamsPerConnectionBeforeSpreading = 100
        public var connectTimeout: Duration = .seconds(5)
        /// HTTP/2 PING while calls are open; nil (the default) sends none.
        public var keepalive: Keepalive?
        /// Reconnect pacing after a failed connect.
        public var backoff = ClientBackoff(initial: .milliseconds(100), maximum: .seconds(3))
        /// How long a call waits for an endpoint whose reconnect backoff has not ended (e.g. a
        /// peer restarting) before it fails with UNAVAILABLE; the call's deadline caps it too.
        public var reconnectWait: Duration = .seconds(3)
        /// Passive ejection: an endpoint failing this many times in a row is skipped for the
        /// cool-down (doubling on each ejection in a row, up to the maximum).
        public var ejectAfterFailures = 3
        public var ejectionCoolDown: Duration = .seconds(5)
        public var maxEjectionCoolDown: Duration = .seconds(60)
        /// Attempts per call across endpoints, for failures where the server never saw the call
        /// (connect refused, stream refused, GOAWAY before it). nil: one more than the endpoints, at most 5.
        public var maxAttempts: Int?
        /// Event-loop threads when the channel owns its loops (no group passed to init).
        public var eventLoopThreads = 1
        public var userAgent = "nimbus-grpc-swift/1"
        /// Connection events (debug) and endpoint ejections (info); nil logs nothing.
        public var logger: Logger?

        public init(endpoints: [ClientEndpoint], tls: TLS? = nil) {
            self.endpoints = endpoints
            self.tls = tls
        }

        /// `endpoints` as `host:port,host:port`.
        public init(endpoints: String, tls: TLS? = nil) throws(ClientConfigurationError) {
            self.init(endpoints: try ClientEndpoint.parseList(endpoints), tls: tls)
        }

        public func validate() throws(ClientConfigurationError) {
            if endpoints.isEmpty { throw .invalid("no endpoint given") }
            if maxReceiveMessageSize < 0 || maxSendMessageSize < 0 { throw .invalid("message size limits must not be negative") }
            if connectionsPerEndpoint < 1 { throw .invalid("connectionsPerEndpoint must be at least 1") }
            if eventLoopThreads < 1 { throw .invalid("eventLoopThreads must be at least 1") }
            if let maxAttempts, maxAttempts < 1 { throw .invalid("maxAttempts must be at least 1") }
            if connectTimeout <= .zero { throw .invalid("connectTimeout must be positive") }
            if let tls {
                if (tls.certificateFile == nil) != (tls.privateKeyFile == nil) {
                    throw .tls("a client certificate needs its private key and the other way round")
                }
            }
        }
    }

    public struct TLS: Sendable {
        /// PEM file of CA certificates the server's certificate must chain to; nil uses the
        /// system's trust store.
        public var caFile: String?
        /// Client certificate chain and key (PEM) for mutual TLS.
        public var certificateFile: String?
        public var privateKeyFile: String?
        /// Name sent as SNI and checked against the server's certificate; nil uses the
        /// endpoint's host when it is a name (an IP literal is checked by chain only).
        public var serverName: String?
        /// Turn off only in tests against a throwaway certificate.
        public var verifyPeer = true

        public init(caFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil,
                    serverName: String? = nil, verifyPeer: Bool = true) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
            self.serverName = serverName
            self.verifyPeer = verifyPeer
        }
    }

    public struct Keepalive: Sendable {
        public var interval: Duration
        public var timeout: Duration
        public init(interval: Duration = .seconds(30), timeout: Duration = .seconds(10)) {
            self.interval = interval
            self.timeout = timeout
        }
    }
}
