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

    /// Up to `limit` rows whose envelope names one of `keyIDs` (sealed before a key rotation),
    /// locked like `plainEnvironments`. The key id sits in the envelope header: byte 1 is its
    /// length, the id follows.
    static func sealedUnder(_ c: PostgresConnection, keyIDs: [String], limit: Int) async throws -> [(id: String, sealed: [UInt8])] {
        try await c.query("""
            SELECT id::text AS id, env_sealed FROM compute.instances
            WHERE env_sealed IS NOT NULL
              AND convert_from(substring(env_sealed FROM 3 FOR get_byte(env_sealed, 1)), 'UTF8') = ANY($1::text[])
            ORDER BY id LIMIT $2::integer FOR UPDATE SKIP LOCKED
            """, "{" + keyIDs.joined(separator: ",") + "}", limit).map {
            (try $0.decode(String.self, column: "id"), Array(try $0.decode(Data.self, column: "env_sealed")))
        }
    }

    /// Replaces the envelope of `id` (same environment, sealed under the current key).
    static func storeResealed(_ c: PostgresConnection, id: String, sealed: [UInt8]) async throws {
        _ = try await c.execute("UPDATE compute.instances SET env_sealed = $2::bytea WHERE id = $1::uuid", id, Data(sealed))
    }

    /// The most recently written sealed environment, to check the configured key at start.
    static func newestSealed(_ c: PostgresConnection) async throws -> (id: String, sealed: [UInt8])? {
        try await c.query("""
            SELECT id::text AS id, env_sealed FROM compute.instances WHERE env_sealed IS NOT NULL ORDER BY updated_at DESC LIMIT 1
            """).first.map { (try $0.decode(String.self, column: "id"), Array(try $0.decode(Data.self, column: "env_sealed"))) }
    }
}
