import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres
import ServiceLifecycle

/// Background work of one replica at a time (the `janitor` lease, renewed each round,
/// taken over once it expires): removes blobs no row references once their grace period has
/// passed, and applies buckets' lifecycle rules (expiration, noncurrent versions, incomplete
/// multipart uploads).
public struct StorageJanitor: Service {
    let core: StorageCore
    let interval: Duration
    let leaseTTL: Duration
    public let holder: String

    public init(core: StorageCore, interval: Duration = .seconds(10), leaseTTL: Duration = .seconds(30), holder: String = UUID().uuidString) {
        self.core = core
        self.interval = interval
        self.leaseTTL = leaseTTL
        self.holder = holder
    }

    /// Takes or renews the lease; true when this replica holds it now.
    public func acquireLease() async throws -> Bool {
        let rows = try await core.db.query("""
            INSERT INTO storage.worker_leases (name, holder, expires_at)
            VALUES ('janitor', $1, now() + make_interval(secs => $2::double precision))
            ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE storage.worker_leases.holder = EXCLUDED.holder OR storage.worker_leases.expires_at < now()
            RETURNING holder
            """, holder, Double(leaseTTL.components.seconds))
        return !rows.isEmpty
    }

    public func releaseLease() async {
        _ = try? await core.db.execute("DELETE FROM storage.worker_leases WHERE name = 'janitor' AND holder = $1", holder)
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

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    if try await acquireLease() {
                        let swept = try await sweepBlobs()
                        let expired = try await applyLifecycle()
                        if swept + expired > 0 {
                            core.logger.info("janitor round", metadata: ["blobs.removed": "\(swept)", "lifecycle.removed": "\(expired)"])
                        }
                    }
                } catch {
                    core.logger.warning("janitor round failed", metadata: ["error": "\(error)"])
                }
                await cancelWhenGracefulShutdown { try? await Task.sleep(for: interval) }
            }
        } onGracefulShutdown: {}
        await releaseLease()
    }
}
