import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres
import NimbusBackground

/// Background work of one replica at a time (the `janitor` lease): removes blobs no row
/// references once their grace period has passed, and applies buckets' lifecycle rules
/// (expiration, noncurrent versions, incomplete multipart uploads).
public struct StorageJanitor: Sendable {
    let core: StorageCore

    public init(core: StorageCore) { self.core = core }

    /// The janitor as a service: a round every `interval` on the replica holding the lease.
    public func worker(interval: Duration, leaseTTL: Duration = .seconds(30)) -> PeriodicWorker {
        let lease = LeaderLease(pool: core.db, schema: AuditEvent.schema, name: "janitor", ttl: leaseTTL)
        return PeriodicWorker(name: "janitor", interval: interval, lease: lease, logger: core.logger) {
            let swept = try await sweepBlobs()
            let expired = try await applyLifecycle()
            if swept + expired > 0 {
                core.logger.info("janitor round", metadata: ["blobs.removed": "\(swept)", "lifecycle.removed": "\(expired)"])
            }
            return swept >= 500 ? .more : .idle
        }
    }

    /// Removes due, unreferenced blobs; returns how many went.
    @discardableResult
    public func sweepBlobs(limit: Int = 500) async throws -> Int {
        try await core.transaction { c in
            let orphans = try await ObjectStore.claimOrphans(c, limit: limit)
            for blob in orphans {
                do {
                    try await core.blobs.delete(blob)
                } catch {
                    core.logger.warning("janitor could not remove a blob; retried next round", metadata: ["blob": "\(blob)", "error": "\(error)"])
                    continue
                }
                _ = try await c.execute("DELETE FROM storage.blob_tombstones WHERE blob = $1", blob)
            }
            return orphans.count
        }
    }

    /// Applies lifecycle rules; returns how many objects, versions and uploads went.
    @discardableResult
    public func applyLifecycle(limit: Int = 200) async throws -> Int {
        let buckets = try await core.read { c in
            try await c.query("SELECT \(BucketStore.columns) FROM storage.buckets WHERE lifecycle <> '[]'::jsonb").map(BucketStore.decode)
        }
        var removed = 0
        let actor = Principal.service("nimbus-storage")
        for bucket in buckets {
            for rule in bucket.lifecycle where rule.enabled {
                if let days = rule.abortIncompleteDays {
                    let stale = try await core.read { c in
                        try await c.query("""
                            SELECT id::text AS id, key FROM storage.multipart_uploads
                            WHERE bucket_id = $1::uuid AND starts_with(key, $2) AND created_at < now() - make_interval(days => $3::integer)
                            LIMIT $4::integer
                            """, bucket.id, rule.prefix, days, limit).map { (try $0.decode(String.self, column: "id"), try $0.decode(String.self, column: "key")) }
                    }
                    for (id, _) in stale {
                        try await core.transaction { c in
                            let parts = try await ObjectStore.parts(c, uploadID: id)
                            try await ObjectStore.deleteUpload(c, id: id)
                            try await ObjectStore.tombstone(c, parts.map(\.blob), grace: core.grace)
                        }
                        removed += 1
                    }
                }
                if let days = rule.expirationDays {
                    let expired = try await core.read { c in
                        try await c.query("""
                            SELECT key FROM storage.objects
                            WHERE bucket_id = $1::uuid AND is_latest AND NOT delete_marker AND starts_with(key, $2)
                              AND created_at < now() - make_interval(days => $3::integer)
                            LIMIT $4::integer
                            """, bucket.id, rule.prefix, days, limit).map { try $0.decode(String.self, column: "key") }
                    }
                    for key in expired {
                        _ = try await core.deleteObject(actor, bucket, key: key, versionID: nil, audit: false)
                        removed += 1
                    }
                }
                if let days = rule.noncurrentDays {
                    // A version is noncurrent from when its successor was written.
                    let old = try await core.read { c in
                        try await c.query("""
                            SELECT o.key, o.version_id FROM storage.objects o
                            WHERE o.bucket_id = $1::uuid AND NOT o.is_latest AND starts_with(o.key, $2)
                              AND (SELECT min(n.created_at) FROM storage.objects n WHERE n.bucket_id = o.bucket_id AND n.key = o.key AND n.id > o.id)
                                  < now() - make_interval(days => $3::integer)
                            LIMIT $4::integer
                            """, bucket.id, rule.prefix, days, limit).map { (try $0.decode(String.self, column: "key"), try $0.decode(String.self, column: "version_id")) }
                    }
                    for (key, version) in old {
                        _ = try await core.deleteObject(actor, bucket, key: key, versionID: version, audit: false)
                        removed += 1
                    }
                }
            }
        }
        return removed
    }

}
