import Logging
import NimbusBackground
import NimbusPostgres
import NimbusTestSupport

/// A fresh database with the background tables in schema `svc` (the migration template), and
/// a `jobs` table to claim from.
struct BackgroundDatabase {
    let pool: PostgresPool
    let schema = BackgroundSchema(schema: "svc", service: "nimbus-test")

    static func make() async throws -> BackgroundDatabase {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        try await pool.withConnection { c in
            try await c.executeScript("CREATE SCHEMA svc; SET search_path TO svc;\n" + BackgroundSchema.migrationSQL + """
                CREATE TABLE svc.jobs (id int PRIMARY KEY, done boolean NOT NULL DEFAULT false, claimed_until timestamptz);
                RESET search_path;
                """)
        }
        return BackgroundDatabase(pool: pool)
    }

    var logger: Logger { Logger(label: "test.background") }
}
