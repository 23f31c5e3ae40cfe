import Foundation
import Logging

/// Applies and reverts the migrations of one schema. Bookkeeping lives in
/// `<schema>.schema_migrations (version, name, checksum, dirty, applied_at)`; each migration runs
/// in its own transaction with `search_path` set to the schema; a session advisory lock keyed by
/// the schema makes concurrent migrators (replicas starting together) take turns, so each
/// migration is applied exactly once.
///
/// It refuses to run on duplicate versions, on a changed checksum of an applied migration, and
/// while a migration is marked dirty (a failed run) until `force` records the true state.
public struct Migrator: Sendable {
    public let pool: PostgresPool
    public let schema: String
    public let migrations: [Migration]
    let logger: Logger

    public init(pool: PostgresPool, schema: String, migrations: [Migration], logger: Logger = Logger(label: "nimbus.migrate")) throws {
        guard PostgresIdentifier.isValid(schema) else {
            throw PostgresError(kind: .misuse, message: "schema name '\(schema)' must match [a-z_][a-z0-9_]* (at most 63 characters)")
        }
        self.pool = pool
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    private var table: String { "\"\(schema)\".schema_migrations" }

    /// Applies every pending migration (up to `target` when given); returns the versions applied.
    @discardableResult
    public func up(to target: Int? = nil) async throws -> [Int] {
        try checkEmbedded()
        return try await locked { c in
            let applied = try await verifiedState(c)
            var done: [Int] = []
            for migration in migrations where applied[migration.version] == nil {
                if let target, migration.version > target { break }
                try await apply(migration, on: c)
                done.append(migration.version)
            }
            return done
        }
    }

    /// Reverts the `steps` most recently applied migrations, newest first; returns their versions.
    @discardableResult
    public func down(steps: Int = 1) async throws -> [Int] {
        try checkEmbedded()
        guard steps >= 1 else { throw migrationError("down needs at least one step (got \(steps))") }
        return try await locked { c in
            let applied = try await verifiedState(c)
            let versions = applied.keys.sorted(by: >).prefix(steps)
            var done: [Int] = []
            for version in versions {
                guard let migration = migrations.first(where: { $0.version == version }) else {
                    throw migrationError("version \(version) is applied but not known to this binary")
                }
                guard let down = migration.down else {
                    throw migrationError("migration \(version)_\(migration.name) has no .down.sql")
                }
                try await revert(migration, sql: down, on: c)
                done.append(version)
            }
            return done
        }
    }

    /// Every embedded and every recorded migration, by version.
    public func status() async throws -> [MigrationStatus] {
        try await locked { c in
            let rows = try await records(c)
            var result: [MigrationStatus] = migrations.map { m in
                let r = rows[m.version]
                return MigrationStatus(version: m.version, name: m.name, applied: r != nil, dirty: r?.dirty ?? false,
                                       appliedAt: r?.appliedAt, checksumMatches: r.map { $0.checksum == m.checksum } ?? true, known: true)
            }
            for (version, r) in rows where !migrations.contains(where: { $0.version == version }) {
                result.append(MigrationStatus(version: version, name: r.name, applied: true, dirty: r.dirty,
                                              appliedAt: r.appliedAt, checksumMatches: true, known: false))
            }
            return result.sorted { $0.version < $1.version }
        }
    }

    /// The highest recorded version (0 when none) and whether any migration is dirty.
    public func version() async throws -> (version: Int, dirty: Bool) {
        try await locked { c in
            let rows = try await records(c)
            return (rows.keys.max() ?? 0, rows.values.contains { $0.dirty })
        }
    }

    /// Declares the schema to be exactly at `version` without running SQL: later records go,
    /// earlier embedded migrations are recorded clean. For after a failed migration was repaired by hand.
    public func force(_ version: Int) async throws {
        try checkEmbedded()
        guard version >= 0 else { throw migrationError("force needs a version >= 0") }
        guard version == 0 || migrations.contains(where: { $0.version == version }) else {
            throw migrationError("force: version \(version) is not an embedded migration")
        }
        try await locked { c in
            try await c.transaction { c in
                try await c.query("DELETE FROM \(table) WHERE version > $1", version)
                try await c.query("UPDATE \(table) SET dirty = false WHERE version <= $1", version)
                for m in migrations where m.version <= version {
                    try await c.query("""
                        INSERT INTO \(table) (version, name, checksum, dirty, applied_at) VALUES ($1, $2, $3, false, now())
                        ON CONFLICT (version) DO NOTHING
                        """, m.version, m.name, m.checksum)
                }
            }
            logger.notice("forced migration version", metadata: ["db.schema": "\(schema)", "db.version": "\(version)"])
        }
    }

    // MARK: steps

    private func apply(_ m: Migration, on c: PostgresConnection) async throws {
        logger.info("applying migration", metadata: ["db.schema": "\(schema)", "db.migration": "\(m.version)_\(m.name)"])
        // Recorded dirty first, outside the migration's transaction: if the process or the SQL
        // fails, the mark stays and blocks the next start until `force`.
        try await c.query("""
            INSERT INTO \(table) (version, name, checksum, dirty, applied_at) VALUES ($1, $2, $3, true, now())
            ON CONFLICT (version) DO UPDATE SET dirty = true
            """, m.version, m.name, m.checksum)
        do {
            try await c.transaction { c in
                try await c.executeScript("SET LOCAL search_path TO \"\(schema)\"; SET LOCAL statement_timeout = 0")
                try await c.executeScript(m.up)
                try await c.query("UPDATE \(table) SET dirty = false, applied_at = now() WHERE version = $1", m.version)
            }
        } catch {
            logger.error("migration failed; the schema is marked dirty", metadata: [
                "db.schema": "\(schema)", "db.migration": "\(m.version)_\(m.name)", "error": "\(error)",
            ])
            throw migrationError("migration \(m.version)_\(m.name) failed and is marked dirty (repair, then `migrate force`): \(error)")
        }
    }

    private func revert(_ m: Migration, sql: String, on c: PostgresConnection) async throws {
        logger.info("reverting migration", metadata: ["db.schema": "\(schema)", "db.migration": "\(m.version)_\(m.name)"])
        try await c.query("UPDATE \(table) SET dirty = true WHERE version = $1", m.version)
        do {
            try await c.transaction { c in
                try await c.executeScript("SET LOCAL search_path TO \"\(schema)\"; SET LOCAL statement_timeout = 0")
                try await c.executeScript(sql)
                try await c.query("DELETE FROM \(table) WHERE version = $1", m.version)
            }
        } catch {
            throw migrationError("reverting \(m.version)_\(m.name) failed and it is marked dirty: \(error)")
        }
    }

    // MARK: state

    struct Record { var name: String; var checksum: String; var dirty: Bool; var appliedAt: Date? }

    private func records(_ c: PostgresConnection) async throws -> [Int: Record] {
        var result: [Int: Record] = [:]
        for row in try await c.query("SELECT version, name, checksum, dirty, applied_at FROM \(table)") {
            result[try row.decode(Int.self, at: 0)] = Record(
                name: try row.decode(String.self, at: 1), checksum: try row.decode(String.self, at: 2),
                dirty: try row.decode(Bool.self, at: 3), appliedAt: try row.decode(Date?.self, at: 4))
        }
        return result
    }

    /// The applied records, after refusing a dirty schema or an edited applied migration.
    private func verifiedState(_ c: PostgresConnection) async throws -> [Int: Record] {
        let rows = try await records(c)
        if let dirty = rows.filter({ $0.value.dirty }).keys.min() {
            throw migrationError("schema \(schema) is dirty at version \(dirty): a migration failed. Repair it, then run `migrate force <version>`")
        }
        for m in migrations {
            if let r = rows[m.version], r.checksum != m.checksum {
                throw migrationError("applied migration \(m.version)_\(m.name) was edited (checksum \(r.checksum.prefix(12))… recorded, \(m.checksum.prefix(12))… now); add a new migration instead")
            }
        }
        for version in rows.keys where !migrations.contains(where: { $0.version == version }) {
            logger.warning("applied migration not known to this binary", metadata: ["db.schema": "\(schema)", "db.version": "\(version)"])
        }
        return rows
    }

    private func checkEmbedded() throws {
        var seen: [Int: String] = [:]
        for m in migrations {
            guard m.version > 0 else { throw migrationError("migration \(m.name) has version \(m.version); versions start at 1") }
            if let other = seen[m.version] {
                throw migrationError("duplicate migration version \(m.version): \(other) and \(m.name)")
            }
            seen[m.version] = m.name
        }
    }

    /// Runs `body` holding the schema's advisory lock on one connection, creating the schema (if
    /// it may) and the bookkeeping table first.
    private func locked<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await pool.withConnection { c in
            let key = PostgresIdentifier.advisoryKey("nimbus.migrate.\(schema)")
            // Polled with a try-lock so a long migration elsewhere cannot trip statement_timeout here.
            var waited = false
            while try await !(c.query("SELECT pg_try_advisory_lock($1)", key).first!.decode(Bool.self, at: 0)) {
                if !waited { logger.info("waiting for another migrator", metadata: ["db.schema": "\(schema)"]); waited = true }
                try await Task.sleep(for: .milliseconds(50))
            }
            do {
                let exists = try await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).count == 1
                if !exists { try await c.executeScript("CREATE SCHEMA \"\(schema)\"") }
                try await c.executeScript("""
                    CREATE TABLE IF NOT EXISTS \(table) (
                        version    bigint      NOT NULL PRIMARY KEY,
                        name       text        NOT NULL,
                        checksum   text        NOT NULL,
                        dirty      boolean     NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())
                    """)
                let value = try await body(c)
                try await c.query("SELECT pg_advisory_unlock($1)", key)
                return value
            } catch {
                // Closing would release it too; this keeps the connection reusable.
                _ = try? await c.query("SELECT pg_advisory_unlock($1)", key)
                throw error
            }
        }
    }

    private func migrationError(_ message: String) -> PostgresError {
        PostgresError(kind: .migration, message: message)
    }
}

enum PostgresIdentifier {
    /// Lower-case SQL identifiers that need no escaping once double-quoted.
    static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        return (first == "_" || ("a"..."z").contains(first))
            && name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// A stable 64-bit key for pg_advisory_lock (FNV-1a; Swift's Hasher is seeded per process).
    static func advisoryKey(_ text: String) -> Int64 {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        return Int64(bitPattern: hash)
    }
}
