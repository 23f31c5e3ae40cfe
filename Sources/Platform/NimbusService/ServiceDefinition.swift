import ArgumentParser
import NimbusMigrations
import NimbusRPCCore

/// What distinguishes one Nimbus service executable from another. Each executable's `main`
/// names its definition and hands it to `ServiceRoot`; everything else is shared.
public protocol ServiceDefinition: Sendable {
    /// Executable name, e.g. `nimbus-identity`.
    static var executableName: String { get }
    /// One line for `--help`.
    static var abstract: String { get }
    /// The PostgreSQL schema the service owns (`identity`, `compute`, …), or nil for none.
    static var schema: String? { get }
    /// The default `--listen` port (docs/ARCHITECTURE.md §1).
    static var defaultPort: Int { get }
    /// The environment variable that overrides `DATABASE_URL` for this service alone.
    static var databaseURLEnvironment: String { get }

    /// Builds the service's RPC services and workers once the harness has its settings,
    /// pool and migrations in place.
    static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts

    /// Commands of this service beside the shared `serve`, `migrate` and `db-bootstrap`.
    static var extraSubcommands: [any ParsableCommand.Type] { get }

    /// The SQL `migrate` applies to `schema`: by default `Migrations/<schema>/` (or the
    /// executable's short name) as embedded in `NimbusMigrations`.
    static var migrationFiles: [MigrationFile] { get }
}

extension ServiceDefinition {
    /// A service with nothing of its own yet still serves health, reflection and metrics.
    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts { ServiceParts() }

    public static var extraSubcommands: [any ParsableCommand.Type] { [] }

    public static var migrationFiles: [MigrationFile] {
        let short = String(executableName.dropFirst("nimbus-".count))
        return schema.flatMap { EmbeddedMigrations.all[$0] } ?? EmbeddedMigrations.all[short] ?? []
    }
}
