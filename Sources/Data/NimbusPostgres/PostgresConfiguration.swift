/// Settings of a `PostgresPool`. Only `dsn` is required; every other field has a documented
/// default (`PostgresConfiguration.defaults`). `validate()` is pure: it never opens a connection,
/// and its errors carry the DSN redacted.
public struct PostgresConfiguration: Sendable {
    /// Where to connect. URL or key=value; `sslmode` and every other libpq parameter pass through.
    public var dsn: PostgresDSN
    /// Connections the pool keeps open even when idle (default 2).
    public var minConnections: Int = 2
    /// Upper bound on concurrent sessions from this process (default 10).
    public var maxConnections: Int = 10
    /// A connection older than this is closed when next returned or checked (default 1 h).
    public var maxLifetime: Duration = .seconds(3600)
    /// An idle connection unused for this long is closed, down to `minConnections` (default 30 s).
    public var maxIdleTime: Duration = .seconds(30)
    /// How often idle connections are checked, expired and topped up to `minConnections` (default 30 s).
    public var healthCheckPeriod: Duration = .seconds(30)
    /// How long `acquire` waits for a free connection before failing with `.poolTimeout` (default 5 s).
    public var acquireTimeout: Duration = .seconds(5)
    /// Server-side `statement_timeout` for every session; nil leaves the server's (default 30 s).
    public var statementTimeout: Duration? = .seconds(30)
    /// libpq `connect_timeout` unless the DSN sets one (default 5 s).
    public var connectTimeout: Duration = .seconds(5)
    /// Prepared statements kept per connection before the oldest is dropped (default 256).
    public var preparedStatementCacheSize: Int = 256
    /// `application_name` fallback shown in pg_stat_activity.
    public var applicationName: String = "nimbus"

    public init(dsn: PostgresDSN) { self.dsn = dsn }

    /// The defaults as one value, for documentation and tests (`dsn` is a placeholder).
    public static var defaults: PostgresConfiguration {
        // The literal is well formed; the force is checked by the unit tests.
        PostgresConfiguration(dsn: try! PostgresDSN("postgres://localhost/postgres"))
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible, Equatable {
        public var field: String
        public var problem: String
        public var description: String { "invalid PostgreSQL configuration: \(field): \(problem)" }
    }

    /// Every problem at once is not needed: the first one found, naming the field. Pure.
    public func validate() throws(Invalid) {
        func fail(_ field: String, _ problem: String) -> Invalid { Invalid(field: field, problem: problem) }
        if minConnections < 0 { throw fail("minConnections", "must not be negative (got \(minConnections))") }
        if maxConnections <= 0 { throw fail("maxConnections", "must be positive (got \(maxConnections))") }
        if minConnections > maxConnections {
            throw fail("minConnections", "\(minConnections) exceeds maxConnections \(maxConnections) for \(dsn)")
        }
        if maxLifetime <= .zero { throw fail("maxLifetime", "must be positive") }
        if maxIdleTime <= .zero { throw fail("maxIdleTime", "must be positive") }
        if healthCheckPeriod <= .zero { throw fail("healthCheckPeriod", "must be positive") }
        if acquireTimeout <= .zero { throw fail("acquireTimeout", "must be positive") }
        if let statementTimeout, statementTimeout < .zero { throw fail("statementTimeout", "must not be negative") }
        if connectTimeout < .seconds(1) { throw fail("connectTimeout", "must be at least 1 s (libpq counts seconds)") }
        if preparedStatementCacheSize < 0 { throw fail("preparedStatementCacheSize", "must not be negative") }
    }
}

extension Duration {
    var nimbusMilliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
    var nimbusSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
