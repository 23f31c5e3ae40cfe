import NimbusPlatform
import NimbusService

/// The gateway's own settings, from `NIMBUS_GATEWAY_*` variables (defaults in parentheses):
///
/// | variable | meaning |
/// |---|---|
/// | `NIMBUS_GATEWAY_KEY_RATE` / `_KEY_BURST` | requests per second and burst per API key (20 / 40; rate 0 turns it off) |
/// | `NIMBUS_GATEWAY_IP_RATE` / `_IP_BURST` | the same per client address, checked before authentication (50 / 100) |
/// | `NIMBUS_GATEWAY_MAX_BODY_BYTES` | largest REST request body (1 MiB) |
/// | `NIMBUS_GATEWAY_REST_TIMEOUT_MS` | deadline of a REST call upstream (30000) |
/// | `NIMBUS_GATEWAY_CORS_ORIGINS` | comma-separated allowed origins; empty turns CORS off (empty) |
/// | `NIMBUS_GATEWAY_EMIT_DEFAULTS` | print unpopulated fields in REST responses (false) |
/// | `NIMBUS_GATEWAY_AUTH_LEASE` | cache authentications under an auth lease from identity, exact about revocation (true; see `LeasedAuthenticator`) |
/// | `NIMBUS_GATEWAY_STORAGE_HTTP` | storage's S3 face (`host:port` or `unix:/path`); S3 requests pass through to it streamed (empty: off) |
/// | `NIMBUS_GATEWAY_S3_DOMAIN` | base domain of virtual-host style S3 (`bucket.<domain>`) (empty: off) |
/// | `NIMBUS_GATEWAY_S3_ANONYMOUS` | unsigned path-style requests no route claims go to S3 (true) |
/// | `NIMBUS_GATEWAY_AUTH_CACHE_MS` | instead, cache successful authentications this long, revocations elsewhere lag up to that (0: off, at most 30000; see `CachingAuthenticator`) |
public struct GatewaySettings: Sendable, Equatable {
    public var keyRate: Double
    public var keyBurst: Double
    public var ipRate: Double
    public var ipBurst: Double
    public var maxBodyBytes: Int
    public var restTimeoutMilliseconds: Int
    public var corsOrigins: [String]
    public var emitDefaults: Bool
    public var authCacheMilliseconds: Int
    public var authLease: Bool
    public var storageHTTP: String?
    public var s3BaseDomain: String?
    public var s3Anonymous: Bool

    public static func resolve(_ source: ConfigSource) throws -> GatewaySettings {
        func number(_ variable: String, _ defaultValue: Double, _ range: ClosedRange<Double>) throws -> Double {
            guard let (text, origin) = source.value(flag: nil, env: variable) else { return defaultValue }
            guard let value = Double(text.trimmingSpaces()), range.contains(value) else {
                throw ConfigError(setting: "\(variable) (\(origin))", problem: "'\(text)' is not a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        let settings = GatewaySettings(
            keyRate: try number("NIMBUS_GATEWAY_KEY_RATE", 20, 0...1_000_000),
            keyBurst: try number("NIMBUS_GATEWAY_KEY_BURST", 40, 1...10_000_000),
            ipRate: try number("NIMBUS_GATEWAY_IP_RATE", 50, 0...1_000_000),
            ipBurst: try number("NIMBUS_GATEWAY_IP_BURST", 100, 1...10_000_000),
            maxBodyBytes: try source.int(flag: nil, env: "NIMBUS_GATEWAY_MAX_BODY_BYTES", default: 1 << 20,
                                         range: 1...(64 << 20), setting: "NIMBUS_GATEWAY_MAX_BODY_BYTES"),
            restTimeoutMilliseconds: try source.int(flag: nil, env: "NIMBUS_GATEWAY_REST_TIMEOUT_MS", default: 30_000,
                                                    range: 1...600_000, setting: "NIMBUS_GATEWAY_REST_TIMEOUT_MS"),
            corsOrigins: source.string(flag: nil, env: "NIMBUS_GATEWAY_CORS_ORIGINS", default: "")
                .split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty },
            emitDefaults: try source.bool(flag: nil, env: "NIMBUS_GATEWAY_EMIT_DEFAULTS", default: false,
                                          setting: "NIMBUS_GATEWAY_EMIT_DEFAULTS"),
            authCacheMilliseconds: try source.int(flag: nil, env: "NIMBUS_GATEWAY_AUTH_CACHE_MS", default: 0,
                                                  range: 0...30_000, setting: "NIMBUS_GATEWAY_AUTH_CACHE_MS"),
            authLease: try source.bool(flag: nil, env: "NIMBUS_GATEWAY_AUTH_LEASE", default: true, setting: "NIMBUS_GATEWAY_AUTH_LEASE"),
            storageHTTP: Self.nonEmpty(source.string(flag: nil, env: "NIMBUS_GATEWAY_STORAGE_HTTP", default: "")),
            s3BaseDomain: Self.nonEmpty(source.string(flag: nil, env: "NIMBUS_GATEWAY_S3_DOMAIN", default: "")),
            s3Anonymous: try source.bool(flag: nil, env: "NIMBUS_GATEWAY_S3_ANONYMOUS", default: true, setting: "NIMBUS_GATEWAY_S3_ANONYMOUS"))
        for origin in settings.corsOrigins where origin != "*" && !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw ConfigError(setting: "NIMBUS_GATEWAY_CORS_ORIGINS", problem: "'\(origin)' is not an origin like https://app.example.com")
        }
        return settings
    }

    private static func nonEmpty(_ text: String) -> String? {
        let trimmed = text.trimmingSpaces()
        return trimmed.isEmpty ? nil : trimmed
    }

    public var s3Recognizer: S3Recognizer { S3Recognizer(baseDomain: s3BaseDomain, anonymousPathStyle: s3Anonymous) }

    public var rateLimits: GatewayRateLimits {
        GatewayRateLimits(
            perKey: keyRate > 0 ? .init(capacity: keyBurst, refillPerSecond: keyRate) : nil,
            perIP: ipRate > 0 ? .init(capacity: ipBurst, refillPerSecond: ipRate) : nil)
    }

    /// Identity's authenticator, behind the configured cache: the TTL cache when
    /// `NIMBUS_GATEWAY_AUTH_CACHE_MS` asks for it, else the leased cache (when `watcher` is
    /// given and leases are on), else none (every request asks identity).
    public func authenticator(_ identity: any CallerAuthenticator, watcher: AuthEpochWatcher?) -> any CallerAuthenticator {
        if authCacheMilliseconds > 0 { return CachingAuthenticator(upstream: identity, ttl: .milliseconds(authCacheMilliseconds)) }
        if authLease, let watcher { return LeasedAuthenticator(upstream: identity, watcher: watcher) }
        return identity
    }

    /// Whether the gateway should watch identity's auth epoch (the leased cache is in use).
    public var usesAuthLease: Bool { authLease && authCacheMilliseconds == 0 }

    public var configuration: Gateway.Configuration {
        var configuration = Gateway.Configuration()
        configuration.maxRequestBodyBytes = maxBodyBytes
        configuration.restTimeout = .milliseconds(restTimeoutMilliseconds)
        configuration.corsOrigins = corsOrigins
        configuration.emitDefaultValues = emitDefaults
        return configuration
    }
}
