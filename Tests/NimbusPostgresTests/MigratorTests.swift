import Foundation
import ArgumentParser
import Logging
import NimbusMigrations
import NimbusPostgres
import NimbusService
import NimbusTestSupport
import NimbusTestingMigrations
import Testing

@Suite("Migrator")
struct MigratorTests {
    static let logger = Logger(label: "test.migrate")

    /// Each migration also logs itself, so a double application would show.
    static func counted(_ count: Int) -> [Migration] {
        var list = [Migration(version: 1, name: "log", up: "CREATE TABLE applied_log (version int NOT NULL, at timestamptz DEFAULT clock_timestamp());",
                              down: "DROP TABLE applied_log;")]
        for v in 2...count {
            list.append(Migration(version: v, name: "step\(v)",
                                  up: "CREATE TABLE t\(v) (id int); INSERT INTO applied_log (version) VALUES (\(v)); SELECT pg_sleep(0.05);",
                                  down: "DROP TABLE t\(v); DELETE FROM applied_log WHERE version = \(v);"))
        }
        return list
    }

    @Test("three migrators started together apply each migration exactly once")
    func concurrentMigrators() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let migrations = Self.counted(6)
        let pools = try (0..<3).map { _ in try db.makePool(maxConnections: 1) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for pool in pools {
                group.addTask { try await Migrator(pool: pool, schema: "svc", migrations: migrations, logger: Self.logger).up() }
            }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Array(1...6))
        let logged = try await pools[0].query("SELECT version FROM svc.applied_log ORDER BY version").map { try $0.decode(Int.self, at: 0) }
        #expect(logged == Array(2...6))
        for pool in pools { await pool.close() }
    }

    @Test("up, down, up leaves the same schema (pg_dump --schema-only)")
    func upDownUp() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let files = try #require(TestingMigrations.all["testing"])
        let migrations = files.map { Migration(version: $0.version, name: $0.name, up: $0.up, down: $0.down) }
        let migrator = try Migrator(pool: pool, schema: "testing", migrations: migrations, logger: Self.logger)
        #expect(try await migrator.up() == [1, 2])
        // Bookkeeping rows carry applied_at, so dump the migrated tables' structure only.
        let first = try dumpSchema(db)
        #expect(first.contains("CREATE TABLE testing.widgets") && first.contains("parts_widget_fk"))
        #expect(try await migrator.down(steps: 2) == [2, 1])
        #expect(try await migrator.version() == (0, false))
        let empty = try dumpSchema(db)
        #expect(!empty.contains("widgets"))
        #expect(try await migrator.up() == [1, 2])
        #expect(try dumpSchema(db) == first)
        #expect(try await migrator.up() == [])
        await pool.close()
    }

    @Test("a failed migration leaves the schema dirty and blocks starts until force")
    func dirtyUntilForce() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let good = Migration(version: 1, name: "one", up: "CREATE TABLE one (id int);", down: "DROP TABLE one;")
        let bad = Migration(version: 2, name: "two", up: "CREATE TABLE two (id int); SELECT * FROM missing_table;", down: nil)
        let failing = try Migrator(pool: pool, schema: "svc", migrations: [good, bad], logger: Self.logger)
        let error = await #expect(throws: PostgresError.self) { try await failing.up() }
        #expect(error?.kind == .migration && error?.description.contains("dirty") == true)
        #expect(try await failing.version() == (2, true))
        // The failed migration's transaction rolled back: table two does not exist.
        #expect(try await pool.query("SELECT to_regclass('svc.two') IS NULL").first!.decode(Bool.self, at: 0))

        // Even with the migration fixed, the next start refuses while dirty …
        let fixed = Migration(version: 2, name: "two", up: "CREATE TABLE two (id int);", down: "DROP TABLE two;")
        let next = try Migrator(pool: pool, schema: "svc", migrations: [good, fixed], logger: Self.logger)
        let refused = await #expect(throws: PostgresError.self) { try await next.up() }
        #expect(refused?.description.contains("dirty at version 2") == true)
        // … until force records the true state, after which up applies the fixed one.
        try await next.force(1)
        #expect(try await next.version() == (1, false))
        #expect(try await next.up() == [2])
        #expect(try await next.version() == (2, false))
        await pool.close()
    }

    @Test("serve refuses to start on a dirty schema, and --migrate-only migrates")
    func servicePrepare() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        var options = try ServiceOptions.parse(["--database-url", db.adminDSN.raw, "--migrate-only"])
        let config = try ServiceConfig.resolve(options, for: TestingService.self, environment: [:])
        #expect(try await MigrationRunner.prepare(config: config, definition: TestingService.self, logger: Self.logger))
        let pool = try db.makePool()
        #expect(try await pool.query("SELECT max(version) FROM testing.schema_migrations").first!.decode(Int.self, at: 0) == 2)
        try await pool.execute("UPDATE testing.schema_migrations SET dirty = true WHERE version = 2")
        options = try ServiceOptions.parse(["--database-url", db.adminDSN.raw, "--no-auto-migrate"])
        let serving = try ServiceConfig.resolve(options, for: TestingService.self, environment: [:])
        let error = await #expect(throws: PostgresError.self) {
            try await MigrationRunner.prepare(config: serving, definition: TestingService.self, logger: Self.logger)
        }
        #expect(error?.description.contains("migrate force") == true)
        await pool.close()
    }

    @Test("an edited applied migration is refused")
    func editedMigration() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let original = Migration(version: 1, name: "one", up: "CREATE TABLE one (id int);", down: nil)
        _ = try await Migrator(pool: pool, schema: "svc", migrations: [original], logger: Self.logger).up()
        var edited = original
        edited.up = "CREATE TABLE one (id bigint);"
        let more = Migration(version: 2, name: "two", up: "CREATE TABLE two (id int);", down: nil)
        let migrator = try Migrator(pool: pool, schema: "svc", migrations: [edited, more], logger: Self.logger)
        let error = await #expect(throws: PostgresError.self) { try await migrator.up() }
        #expect(error?.description.contains("was edited") == true)
        #expect(try await pool.query("SELECT to_regclass('svc.two') IS NULL").first!.decode(Bool.self, at: 0))
        let status = try await migrator.status()
        #expect(status.first { $0.version == 1 }?.checksumMatches == false)
        await pool.close()
    }

    @Test("duplicate versions are refused before anything runs")
    func duplicateVersions() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        let migrator = try Migrator(pool: pool, schema: "svc", migrations: [
            Migration(version: 1, name: "a", up: "CREATE TABLE a (id int);", down: nil),
            Migration(version: 1, name: "b", up: "CREATE TABLE b (id int);", down: nil),
        ], logger: Self.logger)
        let error = await #expect(throws: PostgresError.self) { try await migrator.up() }
        #expect(error?.description.contains("duplicate migration version 1") == true)
        #expect(try await pool.query("SELECT to_regclass('svc.a') IS NULL").first!.decode(Bool.self, at: 0))
        await pool.close()
    }

    /// `pg_dump --schema-only` of the `testing` schema without the bookkeeping table's data.
    func dumpSchema(_ db: TestDatabase) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin/pg_dump")
        process.arguments = ["--schema-only", "--schema=testing", "--exclude-table=testing.schema_migrations", "--no-owner", "-d", db.tcpAdminDSN.raw]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // Newer pg_dump brackets its output with a random \\restrict key: not part of the schema.
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }.joined(separator: "\n")
    }
}

enum TestingService: ServiceDefinition {
    static let executableName = "nimbus-testing"
    static let abstract = "Migrations/testing, for tests."
    static let schema: String? = "testing"
    static let defaultPort = 7999
    static let databaseURLEnvironment = "NIMBUS_TESTING_DATABASE_URL"
    static var migrationFiles: [MigrationFile] { TestingMigrations.all["testing"] ?? [] }
}
