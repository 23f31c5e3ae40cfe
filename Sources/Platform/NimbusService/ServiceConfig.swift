import ArgumentParser
import Logging
import NimbusPlatform
import NimbusPostgres

/// Flags every service executable accepts. Each has a `NIMBUS_*` environment fallback;
/// `ServiceConfig.resolve` turns them into validated settings.
public struct ServiceOptions: ParsableArguments, Sendable {
    @Option(help: "host:port to serve gRPC, HTTP/2 and HTTP/1.1 on (env NIMBUS_LISTEN).")
    public var listen: String?

    @Option(help: "PostgreSQL URL or key=value DSN (env NIMBUS_<SERVICE>_DATABASE_URL, then DATABASE_URL).")
    public var databaseURL: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (env NIMBUS_LOG_LEVEL).")
    public var logLevel: String?

    @Option(help: "json or text (env NIMBUS_LOG_FORMAT).")
    public var logFormat: String?

    @Option(help: "Event loop threads; 0 means one per core (env NIMBUS_THREADS).")
    public var threads: Int?

    @Option(help: "PEM certificate for TLS with ALPN h2 (env NIMBUS_TLS_CERT).")
    public var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert (env NIMBUS_TLS_KEY).")
    public var tlsKey: String?

    @Flag(inversion: .prefixedNo, help: "Apply pending migrations at start (env NIMBUS_AUTO_MIGRATE).")
    public var autoMigrate: Bool?

    @Flag(help: "Apply pending migrations, then exit.")
    public var migrateOnly = false

    public init() {}
}

/// The validated settings of a service process. Built purely from options and environment,
/// so it is unit-testable and never opens a connection.
public struct ServiceConfig: Sendable {
    public var listen: HostPort
    public var database: PostgresDSN?
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var threads: Int
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var autoMigrate: Bool
    public var migrateOnly: Bool

    public static func resolve<D: ServiceDefinition>(
        _ options: ServiceOptions, for _: D.Type, environment: [String: String]
    ) throws -> ServiceConfig {
        let source = ConfigSource(environment: environment)
        let listenText = source.string(flag: options.listen, env: "NIMBUS_LISTEN", default: "127.0.0.1:\(D.defaultPort)")
        let listen = try HostPort(parsing: listenText, setting: "listen")

        var database: PostgresDSN?
        if D.schema == nil {
            // A service without a schema (the gateway) never opens a pool: the shared
            // DATABASE_URL is not for it, and its own setting is a mistake worth saying.
            if let (_, origin) = source.value(flag: options.databaseURL, env: D.databaseURLEnvironment) {
                throw ConfigError(setting: "database-url (\(origin))", problem: "\(D.executableName) holds no database; remove the setting")
            }
        } else if let (dsn, origin) = source.value(flag: options.databaseURL, env: D.databaseURLEnvironment, fallbackEnv: ["DATABASE_URL"]) {
            do {
                database = try PostgresDSN(dsn)
            } catch let error as PostgresDSN.Invalid {
                throw ConfigError(setting: "database-url (\(origin))", problem: error.description)
            }
        }

        let levelText = source.string(flag: options.logLevel, env: "NIMBUS_LOG_LEVEL", default: "info")
        guard let logLevel = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError(setting: "log-level", problem: "'\(levelText)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let formatText = source.string(flag: options.logFormat, env: "NIMBUS_LOG_FORMAT", default: "json")
        guard let logFormat = LogFormat(rawValue: formatText.lowercased()) else {
            throw ConfigError(setting: "log-format", problem: "'\(formatText)' is not json or text")
        }
        let threads = try source.int(flag: options.threads, env: "NIMBUS_THREADS", default: 0, range: 0...256, setting: "threads")

        let cert = source.value(flag: options.tlsCert, env: "NIMBUS_TLS_CERT")?.value
        let key = source.value(flag: options.tlsKey, env: "NIMBUS_TLS_KEY")?.value
        if (cert == nil) != (key == nil) {
            throw ConfigError(setting: "tls-cert/tls-key", problem: "both or neither must be set")
        }
        let autoMigrate = try source.bool(flag: options.autoMigrate, env: "NIMBUS_AUTO_MIGRATE", default: true, setting: "auto-migrate")
        if D.schema != nil, options.migrateOnly, database == nil {
            throw ConfigError(setting: "database-url", problem: "--migrate-only needs a database URL")
        }
        return ServiceConfig(
            listen: listen, database: database, logLevel: logLevel, logFormat: logFormat, threads: threads,
            tlsCertificatePath: cert, tlsKeyPath: key, autoMigrate: autoMigrate, migrateOnly: options.migrateOnly)
    }
}
