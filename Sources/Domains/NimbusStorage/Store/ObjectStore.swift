import Foundation
import NimbusPostgres

/// SQL for storage.objects (one row per version), multipart uploads and parts, and the blob
/// tombstones the janitor works from.
enum ObjectStore {
    static let columns = """
        id, bucket_id::text AS bucket_id, key, version_id, is_latest, delete_marker, size, etag, checksums::text AS checksums, \
        headers::text AS headers, user_metadata::text AS user_metadata, part_sizes, blobs, created_at
        """

    static func decode(_ row: PostgresRow) throws -> ObjectVersion {
        func map(_ column: String) throws -> [String: String] {
            let text = try row.decode(String.self, column: column)
            return text == "{}" ? [:] : try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        }
        return ObjectVersion(
            id: try row.decode(Int64.self, column: "id"),
            bucketID: try row.decode(String.self, column: "bucket_id"),
            key: try row.decode(String.self, column: "key"),
            versionID: try row.decode(String.self, column: "version_id"),
            isLatest: try row.decode(Bool.self, column: "is_latest"),
            deleteMarker: try row.decode(Bool.self, column: "delete_marker"),
            size: try row.decode(Int64.self, column: "size"),
            etag: try row.decode(String.self, column: "etag"),
            checksums: try map("checksums"),
            headers: try map("headers"),
            userMetadata: try map("user_metadata"),
            partSizes: try row.decode([Int64].self, column: "part_sizes"),
            blobs: try row.decode([String].self, column: "blobs"),
            createdAt: try row.decode(Date.self, column: "created_at"))
    }

    /// Serializes writers of one key until the transaction ends (the last commit wins).
    static func lockKey(_ c: PostgresConnection, bucketID: String, key: String) async throws {
        _ = try await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0)) AS x", bucketID, key)
    }

    static func latest(_ c: PostgresConnection, bucketID: String, key: String) async throws -> ObjectVersion? {
        try await c.query("SELECT \(columns) FROM storage.objects WHERE bucket_id = $1::uuid AND key = $2 AND is_latest",
                          bucketID, key).first.map(decode)
    }

    static func version(_ c: PostgresConnection, bucketID: String, key: String, versionID: String, lock: Bool = false) async throws -> ObjectVersion? {
        try await c.query("""
            SELECT \(columns) FROM storage.objects WHERE bucket_id = $1::uuid AND key = $2 AND version_id = $3\(lock ? " FOR UPDATE" : "")
            """, bucketID, key, versionID).first.map(decode)
    }

    struct NewVersion {
        var versionID: String
        var deleteMarker: Bool
        var size: Int64
        var etag: String
        var checksums: [String: String]
        var headers: [String: String]
        var userMetadata: [String: String]
        var partSizes: [Int64]
        var blobs: [String]
    }

    /// Makes `new` the latest version of the key: the previous latest stops being latest, a
    /// version with the same id (`null`) is replaced. Returns the stored row and the rows it
    /// replaced (whose blobs may now be unreferenced). Call with the key locked.
    static func putLatest(_ c: PostgresConnection, bucketID: String, key: String, _ new: NewVersion) async throws -> (ObjectVersion, [ObjectVersion]) {
        let replaced = try await c.query("""
            DELETE FROM storage.objects WHERE bucket_id = $1::uuid AND key = $2 AND version_id = $3 RETURNING \(columns)
            """, bucketID, key, new.versionID).map(decode)
        _ = try await c.execute("UPDATE storage.objects SET is_latest = false WHERE bucket_id = $1::uuid AND key = $2 AND is_latest", bucketID, key)
        let rows = try await c.query("""
            INSERT INTO storage.objects (bucket_id, key, version_id, is_latest, delete_marker, size, etag, checksums, headers,
                user_metadata, part_sizes, blobs)
            VALUES ($1::uuid, $2, $3, true, $4, $5::bigint, $6, $7::jsonb, $8::jsonb, $9::jsonb, $10::bigint[], $11::text[])
            RETURNING \(columns)
            """, binds: [
                bucketID, key, new.versionID, new.deleteMarker, new.size, new.etag, try PostgresJSONB(encoding: new.checksums),
                try PostgresJSONB(encoding: new.headers), try PostgresJSONB(encoding: new.userMetadata), new.partSizes, new.blobs,
            ])
        return (try decode(rows.first!), replaced)
    }

    /// Removes one version; when it was the latest, the newest remaining version becomes
    /// latest. Call with the key locked.
    static func deleteVersion(_ c: PostgresConnection, _ version: ObjectVersion) async throws {
        _ = try await c.execute("DELETE FROM storage.objects WHERE id = $1::bigint", version.id)
        if version.isLatest {
            _ = try await c.execute("""
                UPDATE storage.objects SET is_latest = true WHERE id = (
                    SELECT id FROM storage.objects WHERE bucket_id = $1::uuid AND key = $2 ORDER BY id DESC LIMIT 1)
                """, version.bucketID, version.key)
        }
    }

    /// Latest, non-marker objects under `prefix`, keys ascending, after `after` (exclusive)
    /// or from `from` (inclusive).
    static func listLatest(_ c: PostgresConnection, bucketID: String, prefix: String, after: String?, from: String?, limit: Int) async throws -> [ObjectVersion] {
        try await c.query("""
            SELECT \(columns) FROM storage.objects
            WHERE bucket_id = $1::uuid AND is_latest AND NOT delete_marker
              AND ($2 = '' OR starts_with(key, $2))
              AND ($3::text IS NULL OR key > $3) AND ($4::text IS NULL OR key >= $4)
            ORDER BY key LIMIT $5::integer
            """, binds: [bucketID, prefix, after, from, limit]).map(decode)
    }

    /// Every version under `prefix`, keys ascending then newest first, after the
    /// (key, version id) marker or from `from` (inclusive key).
    static func listVersions(_ c: PostgresConnection, bucketID: String, prefix: String, afterKey: String?, afterRowID: Int64?,
                             from: String?, limit: Int) async throws -> [ObjectVersion] {
        try await c.query("""
            SELECT \(columns) FROM storage.objects
            WHERE bucket_id = $1::uuid
              AND ($2 = '' OR starts_with(key, $2))
              AND ($3::text IS NULL OR key > $3 OR (key = $3 AND $4::bigint IS NOT NULL AND id < $4::bigint))
              AND ($5::text IS NULL OR key >= $5)
            ORDER BY key, id DESC LIMIT $6::integer
            """, binds: [bucketID, prefix, afterKey, afterRowID, from, limit]).map(decode)
    }

    // MARK: blobs

    /// Records that `blobs` may be unreferenced after `grace` (committed before writing them).
    static func tombstone(_ c: PostgresConnection, _ blobs: [String], grace: Duration) async throws {
        guard !blobs.isEmpty else { return }
        _ = try await c.query("""
            INSERT INTO storage.blob_tombstones (blob, delete_after)
            SELECT b, now() + make_interval(secs => $2::double precision) FROM unnest($1::text[]) AS b
            ON CONFLICT (blob) DO UPDATE SET delete_after = EXCLUDED.delete_after
            """, binds: [blobs, Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18])
    }

    static func untombstone(_ c: PostgresConnection, _ blobs: [String]) async throws {
        guard !blobs.isEmpty else { return }
        _ = try await c.query("DELETE FROM storage.blob_tombstones WHERE blob = ANY($1::text[])", binds: [blobs])
    }

    /// Due tombstones whose blob no row references, locked for this janitor round.
    static func claimOrphans(_ c: PostgresConnection, limit: Int) async throws -> [String] {
        let due = try await c.query("""
            SELECT blob FROM storage.blob_tombstones WHERE delete_after < now() ORDER BY delete_after LIMIT $1::integer FOR UPDATE SKIP LOCKED
            """, limit).map { try $0.decode(String.self, column: "blob") }
        var orphans: [String] = []
        for blob in due {
            let referenced = try await c.query("""
                SELECT (EXISTS (SELECT 1 FROM storage.objects WHERE blobs @> ARRAY[$1::text])
                     OR EXISTS (SELECT 1 FROM storage.multipart_parts WHERE blob = $1)) AS referenced
                """, blob).first!.decode(Bool.self, column: "referenced")
            if referenced {
                _ = try await c.execute("DELETE FROM storage.blob_tombstones WHERE blob = $1", blob)
            } else {
                orphans.append(blob)
            }
        }
        return orphans
    }

    // MARK: multipart

    static let uploadColumns = """
        id::text AS id, bucket_id::text AS bucket_id, key, tenant_id::text AS tenant_id, headers::text AS headers, \
        user_metadata::text AS user_metadata, checksum_algorithm, created_at
        """

    static func decodeUpload(_ row: PostgresRow) throws -> MultipartUpload {
        func map(_ column: String) throws -> [String: String] {
            let text = try row.decode(String.self, column: column)
            return text == "{}" ? [:] : try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        }
        return MultipartUpload(
            id: try row.decode(String.self, column: "id"), bucketID: try row.decode(String.self, column: "bucket_id"),
            key: try row.decode(String.self, column: "key"), tenantID: try row.decode(String.self, column: "tenant_id"),
            headers: try map("headers"), userMetadata: try map("user_metadata"),
            checksumAlgorithm: try row.decode(String.self, column: "checksum_algorithm"),
            createdAt: try row.decode(Date.self, column: "created_at"))
    }

    static func decodePart(_ row: PostgresRow) throws -> UploadedPart {
        let checksums = try row.decode(String.self, column: "checksums")
        return UploadedPart(
            number: try row.decode(Int.self, column: "part_number"), size: try row.decode(Int64.self, column: "size"),
            etag: try row.decode(String.self, column: "etag"),
            checksums: checksums == "{}" ? [:] : try JSONDecoder().decode([String: String].self, from: Data(checksums.utf8)),
            blob: try row.decode(String.self, column: "blob"), createdAt: try row.decode(Date.self, column: "created_at"))
    }

    static let partColumns = "part_number, size, etag, checksums::text AS checksums, blob, created_at"

    static func createUpload(_ c: PostgresConnection, bucketID: String, key: String, tenantID: String, headers: [String: String],
                             userMetadata: [String: String], checksumAlgorithm: String) async throws -> MultipartUpload {
        try decodeUpload(try await c.query("""
            INSERT INTO storage.multipart_uploads (bucket_id, key, tenant_id, headers, user_metadata, checksum_algorithm)
            VALUES ($1::uuid, $2, $3::uuid, $4::jsonb, $5::jsonb, $6) RETURNING \(uploadColumns)
            """, binds: [bucketID, key, tenantID, try PostgresJSONB(encoding: headers), try PostgresJSONB(encoding: userMetadata), checksumAlgorithm]).first!)
    }

    static func upload(_ c: PostgresConnection, id: String, bucketID: String, key: String, lock: Bool = false) async throws -> MultipartUpload? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await c.query("""
            SELECT \(uploadColumns) FROM storage.multipart_uploads WHERE id = $1::uuid AND bucket_id = $2::uuid AND key = $3\(lock ? " FOR UPDATE" : "")
            """, id, bucketID, key).first.map(decodeUpload)
    }

    static func parts(_ c: PostgresConnection, uploadID: String, after: Int = 0, limit: Int = 10_001) async throws -> [UploadedPart] {
        try await c.query("""
            SELECT \(partColumns) FROM storage.multipart_parts WHERE upload_id = $1::uuid AND part_number > $2::integer
            ORDER BY part_number LIMIT $3::integer
            """, uploadID, after, limit).map(decodePart)
    }

    /// Stores a part (replacing one with the same number); returns the replaced part's blob.
    static func putPart(_ c: PostgresConnection, uploadID: String, _ part: UploadedPart) async throws -> String? {
        let old = try await c.query("DELETE FROM storage.multipart_parts WHERE upload_id = $1::uuid AND part_number = $2::integer RETURNING blob",
                                    uploadID, part.number).first.map { try $0.decode(String.self, column: "blob") }
        _ = try await c.execute("""
            INSERT INTO storage.multipart_parts (upload_id, part_number, size, etag, checksums, blob)
            VALUES ($1::uuid, $2::integer, $3::bigint, $4, $5::jsonb, $6)
            """, uploadID, part.number, part.size, part.etag, try PostgresJSONB(encoding: part.checksums), part.blob)
        return old
    }

    static func deleteUpload(_ c: PostgresConnection, id: String) async throws {
        _ = try await c.execute("DELETE FROM storage.multipart_uploads WHERE id = $1::uuid", id)
    }

    static func listUploads(_ c: PostgresConnection, bucketID: String, prefix: String, afterKey: String?, afterID: String?, limit: Int) async throws -> [MultipartUpload] {
        try await c.query("""
            SELECT \(uploadColumns) FROM storage.multipart_uploads
            WHERE bucket_id = $1::uuid AND ($2 = '' OR starts_with(key, $2))
              AND ($3::text IS NULL OR key > $3 OR (key = $3 AND $4::text IS NOT NULL AND (created_at, id::text) > (
                  SELECT created_at, id::text FROM storage.multipart_uploads WHERE id::text = $4)))
            ORDER BY key, created_at, id LIMIT $5::integer
            """, binds: [bucketID, prefix, afterKey, afterID, limit]).map(decodeUpload)
    }

    // MARK: usage

    static func addUsage(_ c: PostgresConnection, tenantID: String, bytes: Int64) async throws {
        guard bytes != 0 else { return }
        _ = try await c.execute("""
            INSERT INTO storage.tenant_usage (tenant_id, bytes) VALUES ($1::uuid, $2::bigint)
            ON CONFLICT (tenant_id) DO UPDATE SET bytes = storage.tenant_usage.bytes + EXCLUDED.bytes
            """, tenantID, bytes)
    }
}
