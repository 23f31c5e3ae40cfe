import Logging
import NimbusPostgres

/// Applies identity's schema when it is missing, once across replicas (advisory lock).
/// Used until the shared migrator lands; it only knows "absent → version 1".
enum IdentitySchema {
    static func ensure(_ pool: PostgresPool, logger: Logger) async throws {
        try await pool.withConnection { connection in
            try await connection.executeScript("SELECT pg_advisory_lock(hashtext('nimbus-identity-schema'))")
            do {
                let rows = try await connection.query("SELECT to_regclass('identity.auth_epoch')::text AS t")
                let present = try rows.first?.decode(String?.self, column: "t") != nil
                if !present {
                    logger.info("applying identity schema", metadata: ["schema.version": "\(IdentitySchemaSQL.version)"])
                    try await connection.executeScript("BEGIN")
                    do {
                        try await connection.executeScript(IdentitySchemaSQL.up)
                        try await connection.executeScript("COMMIT")
                    } catch {
                        try? await connection.executeScript("ROLLBACK")
                        throw error
                    }
                }
            } catch {
                try? await connection.executeScript("SELECT pg_advisory_unlock(hashtext('nimbus-identity-schema'))")
                throw error
            }
            try await connection.executeScript("SELECT pg_advisory_unlock(hashtext('nimbus-identity-schema'))")
        }
    }

    /// Drops everything `ensure` created (tests and `reset`).
    static func drop(_ pool: PostgresPool) async throws {
        try await pool.withConnection { try await $0.executeScript(IdentitySchemaSQL.down) }
    }
}
