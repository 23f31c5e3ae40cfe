import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres

/// What a service's wiring gets from the harness: validated settings, a logger, its
/// database pool, the principal verifier and where the other services are.
public struct ServiceEnvironment: Sendable {
    public let config: ServiceConfig
    public let logger: Logger
    /// The pool on the service's own DSN, nil when the service has no database configured.
    public let database: PostgresPool?
    /// The raw environment, for service-specific `NIMBUS_*` settings through `ConfigSource`.
    public let environment: [String: String]

    public init(config: ServiceConfig, logger: Logger, database: PostgresPool?, environment: [String: String]) {
        self.config = config
        self.logger = logger
        self.database = database
        self.environment = environment
    }

    public var configSource: ConfigSource { ConfigSource(environment: environment) }

    /// The pool, or a configuration error naming the setting that is missing.
    public func requireDatabase(_ executable: String) throws -> PostgresPool {
        guard let database else {
            throw ConfigError(setting: "database-url", problem: "\(executable) needs a PostgreSQL database (--database-url or DATABASE_URL)")
        }
        return database
    }

    /// The signer/verifier of principals shared by every service (`NIMBUS_PRINCIPAL_KEY`).
    public func principalSigner() throws -> PrincipalSigner {
        try PrincipalSigner.fromEnvironment(configSource)
    }

    /// Addresses of another service: `NIMBUS_<NAME>_ENDPOINTS` as a comma-separated list of
    /// host:port (several replicas), by default the service's local default port.
    public func endpoints(of upstream: String, defaultPort: Int) throws -> [HostPort] {
        let variable = "NIMBUS_\(upstream.uppercased())_ENDPOINTS"
        let text = configSource.string(flag: nil, env: variable, default: "127.0.0.1:\(defaultPort)")
        let endpoints = try text.split(separator: ",").map {
            try HostPort(parsing: $0.trimmingCharacters(in: .whitespaces), setting: variable)
        }
        guard !endpoints.isEmpty else { throw ConfigError(setting: variable, problem: "no endpoint given") }
        return endpoints
    }
}
