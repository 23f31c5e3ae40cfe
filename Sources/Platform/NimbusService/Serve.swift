import ArgumentParser
import Foundation
import Logging
import NimbusGRPC
import NimbusHTTP
import NimbusPlatform
import NimbusPostgres
import ServiceLifecycle
import UnixSignals

/// Runs the service until SIGTERM or SIGINT: settings, logging and metrics, the database pool
/// and migrations, the service's parts, then one server on one port for gRPC (h2c or TLS) and
/// HTTP/1.1 (`/healthz`, `/readyz`, `/metrics`), drained gracefully on shutdown.
public struct Serve<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "serve", abstract: "Run the service (the default).")
    }

    @OptionGroup public var options: ServiceOptions

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let config = try await ServiceFailure.exitOnConfigError(Definition.self) {
            try ServiceConfig.resolve(options, for: Definition.self, environment: environment)
        }
        NimbusLogging.bootstrap(format: config.logFormat, level: config.logLevel)
        NimbusMetrics.bootstrap()
        let logger = Logger(label: Definition.executableName)
        if try await MigrationRunner.prepare(config: config, definition: Definition.self, logger: logger) { return }

        let database = try await ServiceFailure.exitOnConfigError(Definition.self) {
            try config.database.map { dsn in
                try PostgresPool(configuration: PostgresConfiguration(settingsFrom: dsn, environment: environment),
                                 name: Definition.schema ?? "default", logger: logger)
            }
        }
        let serviceEnvironment = ServiceEnvironment(config: config, logger: logger, database: database, environment: environment)
        let parts = try await ServiceFailure.exitOnConfigError(Definition.self) {
            try await Definition.makeParts(serviceEnvironment)
        }

        let checks = parts.readinessChecks
        let operational = HTTPOperationalEndpoints(
            readiness: {
                if let database {
                    do { try await database.ping() } catch { return false }
                }
                for check in checks where await !check() { return false }
                return true
            },
            metrics: {
                var text = NimbusMetrics.render()
                GRPCServerStatistics.appendPrometheus(into: &text)
                return text
            })
        let server = try GRPCServer(
            configuration: config.serverConfiguration, services: parts.services, http1: parts.http1, streaming: parts.streaming,
            operational: operational, logger: logger)
        // Handlers run as tasks on the server's loops: their queries then use connections of
        // the same loop and never change thread (see Sources/Data/README.md).
        database?.useEventLoops(server.loops)

        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: GRPCServerService(server: server, logger: logger))]
                    + parts.background.map { .init(service: $0) }
                    + (database.map { [.init(service: DatabaseReadiness(pool: $0, health: server.health, logger: logger))] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("serving", metadata: [
            "listen": "\(config.listen)", "tls": "\(config.tlsCertificatePath != nil)",
            "database": "\(config.database.map(\.description) ?? "none")",
        ])
        try await group.run()
        await database?.close()
        logger.info("stopped")
    }
}

/// The gRPC server as a lifecycle service: runs until graceful shutdown, then GOAWAY and a
/// drain of in-flight calls.
struct GRPCServerService: Service {
    let server: GRPCServer
    let logger: Logger

    func run() async throws {
        try await server.start()
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            Task { await server.shutdown(gracePeriod: .seconds(10)) }
        }
    }
}

extension ServiceConfig {
    var serverConfiguration: GRPCServerConfiguration {
        let threads = self.threads == 0 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : self.threads
        let tls = tlsCertificatePath.map { cert in
            GRPCServerConfiguration.TLS(certificateChainPath: cert, privateKeyPath: tlsKeyPath ?? "")
        }
        return GRPCServerConfiguration(host: listen.host, port: listen.port, threads: threads, tls: tls)
    }
}

/// Configuration problems end the process with one clear line (never a secret) and EX_CONFIG.
enum ServiceFailure {
    static func exitOnConfigError<D: ServiceDefinition, T>(_: D.Type, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("\(D.executableName): \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }
}
