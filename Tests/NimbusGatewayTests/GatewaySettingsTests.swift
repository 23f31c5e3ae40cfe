import NimbusPlatform
import NimbusService
import Testing
@testable import NimbusGateway

@Suite struct GatewaySettingsTests {
    @Test func defaults() throws {
        let settings = try GatewaySettings.resolve(ConfigSource(environment: [:]))
        #expect(settings.keyRate == 20 && settings.keyBurst == 40)
        #expect(settings.corsOrigins.isEmpty)
        #expect(settings.rateLimits.perKey != nil && settings.rateLimits.perIP != nil)
        #expect(settings.configuration.maxRequestBodyBytes == 1 << 20)
    }

    @Test func overridesAndDisabling() throws {
        let settings = try GatewaySettings.resolve(ConfigSource(environment: [
            "NIMBUS_GATEWAY_KEY_RATE": "0", "NIMBUS_GATEWAY_IP_RATE": "2.5", "NIMBUS_GATEWAY_IP_BURST": "3",
            "NIMBUS_GATEWAY_CORS_ORIGINS": "https://a.example, http://localhost:3000",
            "NIMBUS_GATEWAY_REST_TIMEOUT_MS": "1500",
        ]))
        #expect(settings.rateLimits.perKey == nil)
        #expect(settings.rateLimits.perIP?.policy == .init(capacity: 3, refillPerSecond: 2.5))
        #expect(settings.corsOrigins == ["https://a.example", "http://localhost:3000"])
        #expect(settings.configuration.restTimeout == .milliseconds(1500))
    }

    @Test func authCacheChoice() throws {
        let identity = IdentityAuthenticator(transport: LoopbackTransport([])) { [] }
        let watcher = AuthEpochWatcher(transport: LoopbackTransport([])) { [] }
        let defaults = try GatewaySettings.resolve(ConfigSource(environment: [:]))
        #expect(defaults.authLease && defaults.usesAuthLease)
        #expect(defaults.authenticator(identity, watcher: watcher) is LeasedAuthenticator)
        let strict = try GatewaySettings.resolve(ConfigSource(environment: ["NIMBUS_GATEWAY_AUTH_LEASE": "false"]))
        #expect(!strict.usesAuthLease && strict.authenticator(identity, watcher: nil) is IdentityAuthenticator)
        // An explicit TTL cache wins (and then nothing watches the epoch).
        let ttl = try GatewaySettings.resolve(ConfigSource(environment: ["NIMBUS_GATEWAY_AUTH_CACHE_MS": "500"]))
        #expect(!ttl.usesAuthLease && ttl.authenticator(identity, watcher: watcher) is CachingAuthenticator)
    }

    @Test(arguments: [
        ("NIMBUS_GATEWAY_KEY_RATE", "fast"), ("NIMBUS_GATEWAY_KEY_BURST", "0"),
        ("NIMBUS_GATEWAY_MAX_BODY_BYTES", "-1"), ("NIMBUS_GATEWAY_CORS_ORIGINS", "app.example"),
        ("NIMBUS_GATEWAY_EMIT_DEFAULTS", "maybe"), ("NIMBUS_GATEWAY_AUTH_LEASE", "sometimes"),
    ])
    func rejectsBadValuesNamingTheSetting(_ variable: String, _ value: String) {
        do {
            _ = try GatewaySettings.resolve(ConfigSource(environment: [variable: value]))
            Issue.record("accepted \(variable)=\(value)")
        } catch let error as ConfigError {
            #expect(error.description.contains(variable))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
