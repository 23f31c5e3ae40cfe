import Logging
import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

/// The gateway's core, independent of sockets: the REST face (`handleHTTP`) and the gRPC
/// pass-through (`proxyServices`). It holds no domain logic: it authenticates, rate-limits,
/// transcodes and forwards to the upstream that serves each service.
public final class Gateway: Sendable {
    public struct Configuration: Sendable {
        /// Largest REST request body accepted (413 beyond it).
        public var maxRequestBodyBytes = 1 << 20
        /// Deadline of a REST call upstream; gRPC callers bring their own (capped by this × 10).
        public var restTimeout: Duration = .seconds(30)
        /// Methods callable without an API key (gRPC paths).
        public var publicMethods: Set<String> = ["/nimbus.identity.v1.Auth/Login"]
        /// Service-to-service methods never exposed to external callers.
        public var internalMethods: Set<String> = [
            "/nimbus.identity.v1.Auth/Authenticate",
            "/nimbus.identity.v1.Auth/WatchAuthEpoch",
            "/nimbus.identity.v1.Auth/AckAuthEpoch",
            "/nimbus.identity.v1.Quotas/ReserveQuota",
            "/nimbus.identity.v1.Quotas/ReleaseQuota",
            "/nimbus.identity.v1.Audit/AppendAuditEvents",
        ]
        /// Allowed CORS origins; empty (the default) turns CORS off. `*` allows any.
        public var corsOrigins: [String] = []
        /// Print unpopulated fields in REST responses.
        public var emitDefaultValues = false
        public var accessLog = true
        /// Methods that only read, retried once (reaching another replica) when their upstream
        /// connection is lost; anything else is never sent twice.
        public var isSafeToRetry: @Sendable (MethodDescriptor) -> Bool = { method in
            method.kind == .unary && ["Get", "List", "WhoAmI", "Verify"].contains { method.method.hasPrefix($0) }
        }

        public init() {}
    }

    public let configuration: Configuration
    public let descriptors: DescriptorSet
    public let router: HTTPRouter
    let rest: RESTTranscoder
    let upstreams: [String: any RPCClientTransport]
    let authenticator: any CallerAuthenticator
    /// The cache inside `authenticator`, when there is one, to clear after identity changes.
    let authCache: CachingAuthenticator?
    let limits: GatewayRateLimits
    let logger: Logger
    let metrics = GatewayMetrics()
    let openAPIDocument: [UInt8]

    /// - Parameters:
    ///   - upstreams: transport per fully qualified service name (one channel per upstream
    ///     service, spreading over its replicas). Services without one are not exposed.
    public init(configuration: Configuration = Configuration(), descriptors: DescriptorSet,
                upstreams: [String: any RPCClientTransport], authenticator: any CallerAuthenticator,
                limits: GatewayRateLimits, logger: Logger = Logger(label: "nimbus.gateway"),
                version: String = "0") throws {
        self.configuration = configuration
        self.descriptors = descriptors
        self.upstreams = upstreams
        self.authenticator = authenticator
        authCache = authenticator as? CachingAuthenticator
        self.limits = limits
        self.logger = logger
        let exposed = Set(upstreams.keys)
        var router = try HTTPRouter(descriptors: descriptors, services: exposed)
        router.removeRoutes { configuration.internalMethods.contains($0.rpcMethod.path) }
        self.router = router
        rest = RESTTranscoder(descriptors: descriptors, options: .init(emitDefaultValues: configuration.emitDefaultValues, emitEmptyCollections: true))
        let generator = OpenAPIGenerator(
            descriptors: descriptors, router: router,
            info: .init(version: version, description: "The Nimbus public API. Authenticate with an API key: Authorization: Bearer <key>."),
            publicMethods: configuration.publicMethods)
        openAPIDocument = JSONWriter.serialize(generator.document())
    }

    /// The client address without the port, the key for per-IP limits.
    static func clientIP(_ peer: String) -> String {
        if peer.hasPrefix("["), let close = peer.firstIndex(of: "]") {
            return String(peer[peer.index(after: peer.startIndex)..<close])
        }
        if let colon = peer.lastIndex(of: ":"), peer.firstIndex(of: ":") == colon {
            return String(peer[..<colon])
        }
        return peer
    }

    /// Metadata for the upstream call: the client's, minus credentials and anything claiming
    /// to be a principal, plus the signed principal, request id and trace context.
    static func forwardedMetadata(_ incoming: Metadata, identity: RequestIdentity, caller: AuthenticatedCaller?, peer: String) -> Metadata {
        // Keys are lowercase already (received metadata and the constants here): no re-lowercasing.
        var metadata = Metadata()
        metadata.reserveCapacity(incoming.entries.count + 4)
        for (key, value) in incoming {
            switch key {
            case "authorization", "x-api-key", "x-request-id", "traceparent", "x-forwarded-for", "user-agent", "host":
                continue
            default:
                if key.hasPrefix("x-nimbus-") { continue }
                metadata.appendLowercaseKey(key, value: value)
            }
        }
        if let caller { metadata.appendLowercaseKey(IdentityAuthenticator.principalMetadataKey, value: .binary(caller.signedPrincipal)) }
        metadata.appendLowercaseKey("x-request-id", value: .string(identity.requestID))
        metadata.appendLowercaseKey("traceparent", value: .string(identity.traceparent))
        if !peer.isEmpty { metadata.appendLowercaseKey("x-forwarded-for", value: .string(clientIP(peer))) }
        return metadata
    }

    /// IP limit, credentials, identity, key limit: the common front half of both faces.
    func admit(method: String, credentials: Credentials.Outcome, peer: String, identity: RequestIdentity) async throws -> AuthenticatedCaller? {
        if let perIP = limits.perIP {
            let decision = perIP.acquire(Self.clientIP(peer))
            if !decision.allowed { throw Self.rateLimited(decision, scope: "client address") }
        }
        if configuration.publicMethods.contains(method) { return nil }
        guard case .key(let key) = credentials else { throw Credentials.error(for: credentials) }
        let caller = try await authenticator.authenticate(apiKey: key, identity: identity)
        if let perKey = limits.perKey {
            let decision = perKey.acquire(caller.keyID.isEmpty ? caller.userID : caller.keyID)
            if !decision.allowed { throw Self.rateLimited(decision, scope: "API key") }
        }
        return caller
    }

    static func rateLimited(_ decision: TokenBucketLimiter.Decision, scope: String) -> RPCError {
        var metadata = Metadata()
        metadata.add("retry-after", String(decision.retryAfterSeconds))
        return RPCError(.resourceExhausted, "rate limit exceeded for this \(scope); retry after \(decision.retryAfterSeconds)s",
                        metadata: metadata)
    }

    /// Called after an upstream call succeeded: identity changes clear the auth cache before
    /// the response leaves, so they are effective on the caller's next request.
    func didForward(_ method: MethodDescriptor) {
        if let authCache, CachingAuthenticator.invalidates(method) { authCache.invalidateAll() }
    }

    /// A unary call upstream, retried once on UNAVAILABLE when the method only reads.
    func unaryUpstream(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        let transport = try upstream(for: method.service)
        do {
            return try await transport.unary(method, request: request, options: options)
        } catch let error as RPCError where error.code == .unavailable && configuration.isSafeToRetry(method) {
            return try await transport.unary(method, request: request, options: options)
        }
    }

    func upstream(for service: String) throws -> any RPCClientTransport {
        guard let transport = upstreams[service] else {
            throw RPCError(.unimplemented, "service \(service) is not served by this gateway")
        }
        return transport
    }
}
