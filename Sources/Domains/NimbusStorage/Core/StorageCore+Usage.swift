import Logging
import Metrics
import Foundation
import NimbusPostgres

extension StorageCore {
    /// `storage_gb` is held in identity in whole GiB: one reservation per GiB the tenant's
    /// stored bytes reach (keys `storage-gb:<uuid>`, remembered in storage.quota_grants).
    static let quotaUnit: Int64 = 1 << 30

    /// Before a write of `adding` bytes commits: reserves the GiB units the tenant's total
    /// would newly need; refused → QuotaExceeded, nothing stored.
    func ensureStorage(tenantID: String, adding: Int64) async throws {
        guard adding > 0 else { return }
        let (bytes, held) = try await read { c -> (Int64, Int64) in
            let row = try await c.query("""
                SELECT COALESCE((SELECT bytes FROM storage.tenant_usage WHERE tenant_id = $1::uuid), 0)::bigint AS bytes,
                       (SELECT count(*) FROM storage.quota_grants WHERE tenant_id = $1::uuid AND state = 'HELD')::bigint AS held
                """, tenantID).first!
            return (try row.decode(Int64.self, column: "bytes"), try row.decode(Int64.self, column: "held"))
        }
        let needed = (bytes + adding + Self.quotaUnit - 1) / Self.quotaUnit
        guard needed > held else { return }
        for _ in held..<needed {
            let key = "storage-gb:\(UUID().uuidString.lowercased())"
            try await transaction { c in
                _ = try await c.execute("INSERT INTO storage.quota_grants (tenant_id, quota_key) VALUES ($1::uuid, $2)", tenantID, key)
            }
            do {
                try await quota.reserve(tenantID: tenantID, key: key, buckets: 0, storageGB: 1)
            } catch {
                _ = try? await transaction { c in try await c.execute("DELETE FROM storage.quota_grants WHERE quota_key = $1", key) }
                if error is QuotaRefused { throw S3Error.quotaExceeded }
                logger.warning("quota reservation failed", metadata: ["error": "\(error)"])
                throw S3Error.serviceUnavailable
            }
        }
    }

    /// After bytes went away: releases GiB units the tenant no longer needs (best effort;
    /// a failed release is retried by the next trim).
    func trimStorage(tenantID: String) async {
        do {
            let surplus = try await transaction { c -> [String] in
                let row = try await c.query("""
                    SELECT COALESCE((SELECT bytes FROM storage.tenant_usage WHERE tenant_id = $1::uuid), 0)::bigint AS bytes
                    """, tenantID).first!
                let needed = (try row.decode(Int64.self, column: "bytes") + Self.quotaUnit - 1) / Self.quotaUnit
                return try await c.query("""
                    UPDATE storage.quota_grants SET state = 'RELEASE_PENDING' WHERE quota_key IN (
                        SELECT quota_key FROM storage.quota_grants WHERE tenant_id = $1::uuid AND state = 'HELD'
                        ORDER BY created_at DESC OFFSET $2::bigint FOR UPDATE SKIP LOCKED)
                    RETURNING quota_key
                    """, tenantID, needed).map { try $0.decode(String.self, column: "quota_key") }
                    + (try await c.query("SELECT quota_key FROM storage.quota_grants WHERE tenant_id = $1::uuid AND state = 'RELEASE_PENDING'",
                                         tenantID).map { try $0.decode(String.self, column: "quota_key") })
            }
            for key in Set(surplus) {
                try await quota.release(tenantID: tenantID, key: key)
                _ = try await transaction { c in try await c.execute("DELETE FROM storage.quota_grants WHERE quota_key = $1", key) }
            }
        } catch {
            logger.debug("storage quota trim failed; retried later", metadata: ["error": "\(error)"])
        }
    }
}
