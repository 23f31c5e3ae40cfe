import ArgumentParser
import Foundation
import Logging
import NimbusMigrations
import NimbusPlatform
import NimbusPostgres

/// Start-up migrations and the `migrate` subcommands, over the SQL embedded from `Migrations/`.
public enum MigrationRunner {
    /// The embedded migrations of a service: `Migrations/<schema>/` (or the executable's short name).
    public static func migrations<D: ServiceDefinition>(for _: D.Type) -> [Migration] {
        D.migrationFiles.map { Migration(version: $0.version, name: $0.name, up: $0.up, down: $0.down) }
    }

    /// Called by `serve` after configuration: applies pending migrations when `--auto-migrate`
    /// (the default) or `--migrate-only`, otherwise refuses a dirty schema. Returns true when the
    /// process should exit now (`--migrate-only`).
    public static func prepare<D: ServiceDefinition>(config: ServiceConfig, definition: D.Type, logger: Logger) async throws -> Bool {
        guard let schema = D.schema, let dsn = config.database else { return config.migrateOnly }
        try await withMigrator(dsn: dsn, schema: schema, migrations: migrations(for: D.self), logger: logger) { migrator in
            if config.autoMigrate || config.migrateOnly {
                let applied = try await migrator.up()
                let (version, _) = try await migrator.version()
                logger.info("migrations up to date", metadata: [
                    "db.schema": "\(schema)", "db.version": "\(version)", "db.applied": "\(applied.count)",
                ])
            } else {
                let (version, dirty) = try await migrator.version()
                if dirty {
                    throw PostgresError(kind: .migration, message: "schema \(schema) is dirty at version \(version); run `\(D.executableName) migrate force <version>` after repairing it")
                }
            }
        }
        return config.migrateOnly
    }

    static func withMigrator<T: Sendable>(dsn: PostgresDSN, schema: String, migrations: [Migration], logger: Logger,
                                          _ body: (Migrator) async throws -> T) async throws -> T {
        var configuration = PostgresConfiguration(dsn: dsn)
        configuration.minConnections = 0
        configuration.maxConnections = 1
        let pool = try PostgresPool(configuration: configuration, name: "migrate-\(schema)", logger: logger)
        do {
            let value = try await body(try Migrator(pool: pool, schema: schema, migrations: migrations, logger: logger))
            await pool.close()
            return value
        } catch {
            await pool.close()
            throw error
        }
    }

    /// Resolves settings like `serve` and runs `body` with the service's migrator.
    static func run<D: ServiceDefinition, T: Sendable>(_ options: ServiceOptions, _: D.Type, _ body: (Migrator) async throws -> T) async throws -> T {
        let config = try await ServiceFailure.exitOnConfigError(D.self) {
            try ServiceConfig.resolve(options, for: D.self, environment: ProcessInfo.processInfo.environment)
        }
        NimbusLogging.bootstrap(format: config.logFormat, level: config.logLevel)
        let logger = Logger(label: D.executableName)
        guard let schema = D.schema else {
            throw ValidationError("\(D.executableName) owns no database schema")
        }
        guard let dsn = config.database else {
            throw ValidationError("a database URL is needed (--database-url, \(D.databaseURLEnvironment) or DATABASE_URL)")
        }
        return try await withMigrator(dsn: dsn, schema: schema, migrations: MigrationRunner.migrations(for: D.self), logger: logger, body)
    }
}

/// `nimbus-<svc> migrate up|down [N]|status|version|force V`.
public struct Migrate<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "migrate", abstract: "Apply, revert or inspect the service's schema migrations.",
            subcommands: [Up.self, Down.self, Status.self, Version.self, Force.self])
    }
    public init() {}

    public struct Up: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Apply every pending migration.") }
        @OptionGroup public var options: ServiceOptions
        public init() {}
        public func run() async throws {
            let applied = try await MigrationRunner.run(options, Definition.self) { try await $0.up() }
            print(applied.isEmpty ? "up to date" : "applied \(applied.map(String.init).joined(separator: ", "))")
        }
    }

    public struct Down: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Revert the newest N applied migrations (default 1).") }
        @Argument(help: "How many migrations to revert.") public var steps: Int = 1
        @OptionGroup public var options: ServiceOptions
        public init() {}
        public func run() async throws {
            let steps = self.steps
            let reverted = try await MigrationRunner.run(options, Definition.self) { try await $0.down(steps: steps) }
            print("reverted \(reverted.map(String.init).joined(separator: ", "))")
        }
    }

    public struct Status: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "List migrations and whether each is applied.") }
        @OptionGroup public var options: ServiceOptions
        public init() {}
        public func run() async throws {
            let list = try await MigrationRunner.run(options, Definition.self) { try await $0.status() }
            if list.isEmpty { print("no migrations embedded for \(Definition.schema ?? "this service")") }
            for s in list {
                var state = s.applied ? "applied" : "pending"
                if s.dirty { state = "DIRTY" }
                if !s.checksumMatches { state += " (EDITED since applied)" }
                if !s.known { state += " (unknown to this binary)" }
                let at = s.appliedAt.map { " \($0.formatted(.iso8601))" } ?? ""
                print("\(String(format: "%04d", s.version))_\(s.name)\t\(state)\(at)")
            }
        }
    }

    public struct Version: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Print the applied version (and 'dirty' when a migration failed).") }
        @OptionGroup public var options: ServiceOptions
        public init() {}
        public func run() async throws {
            let (version, dirty) = try await MigrationRunner.run(options, Definition.self) { try await $0.version() }
            print(dirty ? "\(version) dirty" : "\(version)")
        }
    }

    public struct Force: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Record the schema as exactly at version V (clears dirty) without running SQL.")
        }
        @Argument(help: "The version the schema is really at (0 for none).") public var version: Int
        @OptionGroup public var options: ServiceOptions
        public init() {}
        public func run() async throws {
            let version = self.version
            try await MigrationRunner.run(options, Definition.self) { try await $0.force(version) }
            print("forced \(version)")
        }
    }
}

extension PostgresConfiguration {
    /// `init(dsn:environment:)` with its problems reported as a `ConfigError` (exit 78).
    init(settingsFrom dsn: PostgresDSN, environment: [String: String]) throws {
        do {
            try self.init(dsn: dsn, environment: environment)
        } catch {
            throw ConfigError(setting: error.field, problem: error.problem)
        }
    }
}
