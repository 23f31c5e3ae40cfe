import Foundation
import NimbusPostgres

/// SQL for the sealed instance environments (compute.instances.env_sealed).
extension InstanceStore {
    /// Up to `limit` rows still holding a plain environment (written before sealing), locked
    /// so two replicas starting together do not both re-seal one row.
    static func plainEnvironments(_ c: PostgresConnection, limit: Int) async throws -> [(id: String, env: [String: String])] {
        try await c.query("""
            SELECT id::text AS id, env::text AS env FROM compute.instances
            WHERE env_sealed IS NULL AND env <> '{}'::jsonb
            ORDER BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED
            """, limit).map { row in
            (try row.decode(String.self, column: "id"),
             try JSONDecoder().decode([String: String].self, from: Data(try row.decode(String.self, column: "env").utf8)))
        }
    }

    /// Replaces the plain environment of `id` by its sealed form, in one statement.
    static func storeSealed(_ c: PostgresConnection, id: String, sealed: [UInt8]) async throws {
        _ = try await c.execute("""
            UPDATE compute.instances SET env_sealed = $2::bytea, env = '{}'::jsonb WHERE id = $1::uuid AND env_sealed IS NULL
            """, id, Data(sealed))
    }

    /// The most recently written sealed environment, to check the configured key at start.
    static func newestSealed(_ c: PostgresConnection) async throws -> (id: String, sealed: [UInt8])? {
        try await c.query("""
            SELECT id::text AS id, env_sealed FROM compute.instances WHERE env_sealed IS NOT NULL ORDER BY updated_at DESC LIMIT 1
            """).first.map { (try $0.decode(String.self, column: "id"), Array(try $0.decode(Data.self, column: "env_sealed"))) }
    }
}
