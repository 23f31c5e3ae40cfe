import Foundation
import NimbusPostgres

/// SQL for storage.buckets. Every query is parameterized.
enum BucketStore {
    static let columns = """
        id::text AS id, name, tenant_id::text AS tenant_id, versioning, public_read, lifecycle::text AS lifecycle, \
        tags::text AS tags, quota_key, created_at
        """

    static func decode(_ row: PostgresRow) throws -> Bucket {
        let versioning = try row.decode(String.self, column: "versioning")
        let lifecycle = try row.decode(String.self, column: "lifecycle")
        let tags = try row.decode(String.self, column: "tags")
        return Bucket(
            id: try row.decode(String.self, column: "id"),
            name: try row.decode(String.self, column: "name"),
            tenantID: try row.decode(String.self, column: "tenant_id"),
            versioning: VersioningState(rawValue: versioning) ?? .unversioned,
            publicRead: try row.decode(Bool.self, column: "public_read"),
            lifecycle: lifecycle == "[]" ? [] : try JSONDecoder().decode([LifecycleRule].self, from: Data(lifecycle.utf8)),
            tags: tags == "{}" ? [:] : try JSONDecoder().decode([String: String].self, from: Data(tags.utf8)),
            quotaKey: try row.decode(String.self, column: "quota_key"),
            createdAt: try row.decode(Date.self, column: "created_at"))
    }

    static func insert(_ c: PostgresConnection, id: String, name: String, tenantID: String, createdBy: String, quotaKey: String) async throws -> Bucket {
        let rows = try await c.query("""
            INSERT INTO storage.buckets (id, name, tenant_id, created_by, quota_key) VALUES ($1::uuid, $2, $3::uuid, $4, $5)
            RETURNING \(columns)
            """, id, name, tenantID, createdBy, quotaKey)
        return try decode(rows.first!)
    }

    static func fetch(_ c: PostgresConnection, name: String, lock: Bool = false) async throws -> Bucket? {
        try await c.query("SELECT \(columns) FROM storage.buckets WHERE name = $1\(lock ? " FOR UPDATE" : "")", name).first.map(decode)
    }

    static func list(_ c: PostgresConnection, tenantID: String) async throws -> [Bucket] {
        try await c.query("SELECT \(columns) FROM storage.buckets WHERE tenant_id = $1::uuid ORDER BY name", tenantID).map(decode)
    }

    static func isEmpty(_ c: PostgresConnection, bucketID: String) async throws -> Bool {
        try await c.query("SELECT 1 AS x FROM storage.objects WHERE bucket_id = $1::uuid LIMIT 1", bucketID).isEmpty
    }

    static func delete(_ c: PostgresConnection, id: String) async throws {
        _ = try await c.execute("DELETE FROM storage.buckets WHERE id = $1::uuid", id)
    }

    static func setVersioning(_ c: PostgresConnection, id: String, _ state: VersioningState) async throws {
        _ = try await c.execute("UPDATE storage.buckets SET versioning = $2, version = version + 1 WHERE id = $1::uuid", id, state.rawValue)
    }

    static func setPublicRead(_ c: PostgresConnection, id: String, _ value: Bool) async throws {
        _ = try await c.execute("UPDATE storage.buckets SET public_read = $2, version = version + 1 WHERE id = $1::uuid", id, value)
    }

    static func setTags(_ c: PostgresConnection, id: String, _ tags: [String: String]) async throws {
        _ = try await c.execute("UPDATE storage.buckets SET tags = $2::jsonb, version = version + 1 WHERE id = $1::uuid",
                                id, try PostgresJSONB(encoding: tags))
    }

    static func setLifecycle(_ c: PostgresConnection, id: String, _ rules: [LifecycleRule]) async throws {
        _ = try await c.execute("UPDATE storage.buckets SET lifecycle = $2::jsonb, version = version + 1 WHERE id = $1::uuid",
                                id, try PostgresJSONB(encoding: rules))
    }
}
