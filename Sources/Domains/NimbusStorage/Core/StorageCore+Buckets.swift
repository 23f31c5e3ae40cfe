import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

extension StorageCore {
    /// The bucket named `name` if the caller may act on it: its tenant's callers with the
    /// permission, anyone for reads of a public-read bucket. Another tenant's bucket answers
    /// AccessDenied, as S3 does (names are global, so existence is no secret).
    func authorize(_ caller: Principal?, bucket name: String, _ access: BucketAccess) async throws -> Bucket {
        guard let bucket = try await read({ try await BucketStore.fetch($0, name: name) }) else {
            throw S3Error.noSuchBucket.with(resource: name)
        }
        try Self.check(caller, bucket, access)
        return bucket
    }

    static func check(_ caller: Principal?, _ bucket: Bucket, _ access: BucketAccess) throws {
        if let caller, caller.tenantID.lowercased() == bucket.tenantID, caller.has(access.permission) { return }
        if access == .read, bucket.publicRead { return }
        throw S3Error.accessDenied()
    }

    static func tenant(of caller: Principal?) throws -> Principal {
        guard let caller, UUID(uuidString: caller.tenantID) != nil else { throw S3Error.accessDenied() }
        return caller
    }

    public func listBuckets(_ caller: Principal?) async throws -> [Bucket] {
        let caller = try Self.tenant(of: caller)
        guard caller.has(.bucketRead) else { throw S3Error.accessDenied() }
        return try await read { try await BucketStore.list($0, tenantID: caller.tenantID.lowercased()) }
    }

    /// Reserves one `buckets` unit in identity (keyed by the new bucket's id), then inserts.
    public func createBucket(_ caller: Principal?, name: String, publicRead: Bool = false) async throws -> Bucket {
        let caller = try Self.tenant(of: caller)
        guard caller.has(.bucketManage) else { throw S3Error.accessDenied() }
        try BucketName.validate(name)
        let tenantID = caller.tenantID.lowercased()
        if let existing = try await read({ try await BucketStore.fetch($0, name: name) }) {
            throw (existing.tenantID == tenantID ? S3Error.bucketAlreadyOwnedByYou : S3Error.bucketAlreadyExists).with(resource: name)
        }
        let id = UUID().uuidString.lowercased()
        let quotaKey = "bucket:\(id)"
        do {
            try await quota.reserve(tenantID: tenantID, key: quotaKey, buckets: 1, storageGB: 0)
        } catch is QuotaRefused {
            throw S3Error.tooManyBuckets.with(resource: name)
        }
        do {
            return try await transaction { c in
                var bucket = try await BucketStore.insert(c, id: id, name: name, tenantID: tenantID, createdBy: caller.userID, quotaKey: quotaKey)
                if publicRead {
                    try await BucketStore.setPublicRead(c, id: id, true)
                    bucket.publicRead = true
                }
                try await event(caller, "bucket.create", "bucket", name, ["public_read": "\(publicRead)"]).insert(c)
                return bucket
            }
        } catch {
            try? await quota.release(tenantID: tenantID, key: quotaKey)
            if let s3 = error as? S3Error, s3.code == S3Error.bucketAlreadyExists.code {
                let owner = try? await read { try await BucketStore.fetch($0, name: name) }
                throw (owner?.tenantID == tenantID ? S3Error.bucketAlreadyOwnedByYou : S3Error.bucketAlreadyExists).with(resource: name)
            }
            throw error
        }
    }

    public func headBucket(_ caller: Principal?, name: String) async throws -> Bucket {
        try await authorize(caller, bucket: name, .read)
    }

    /// Only an empty bucket (no versions, no delete markers) goes; unfinished multipart
    /// uploads are aborted with it. Its `buckets` reservation is released afterwards.
    public func deleteBucket(_ caller: Principal?, name: String) async throws {
        let bucket = try await authorize(caller, bucket: name, .manage)
        let caller = try Self.tenant(of: caller)
        try await transaction { c in
            guard let locked = try await BucketStore.fetch(c, name: name, lock: true), locked.id == bucket.id else { throw S3Error.noSuchBucket }
            guard try await BucketStore.isEmpty(c, bucketID: bucket.id) else { throw S3Error.bucketNotEmpty.with(resource: name) }
            let partBlobs = try await c.query("""
                SELECT p.blob FROM storage.multipart_parts p JOIN storage.multipart_uploads u ON u.id = p.upload_id WHERE u.bucket_id = $1::uuid
                """, bucket.id).map { try $0.decode(String.self, column: "blob") }
            _ = try await c.execute("DELETE FROM storage.multipart_uploads WHERE bucket_id = $1::uuid", bucket.id)
            try await ObjectStore.tombstone(c, partBlobs, grace: grace)
            try await BucketStore.delete(c, id: bucket.id)
            try await event(caller, "bucket.delete", "bucket", name).insert(c)
        }
        do {
            try await quota.release(tenantID: bucket.tenantID, key: bucket.quotaKey)
        } catch {
            logger.warning("bucket quota release failed; the reservation stays until released", metadata: [
                "bucket": "\(name)", "quota.key": "\(bucket.quotaKey)", "error": "\(error)",
            ])
        }
    }

    public func setVersioning(_ caller: Principal?, bucket name: String, _ state: VersioningState) async throws {
        let bucket = try await authorize(caller, bucket: name, .manage)
        let caller = try Self.tenant(of: caller)
        // A bucket once versioned is never unversioned again (only suspended).
        let next: VersioningState = state == .unversioned ? (bucket.versioning == .unversioned ? .unversioned : .suspended) : state
        try await transaction { c in
            try await BucketStore.setVersioning(c, id: bucket.id, next)
            try await event(caller, "bucket.versioning", "bucket", name, ["versioning": next.rawValue]).insert(c)
        }
    }

    public func setPublicRead(_ caller: Principal?, bucket name: String, _ value: Bool) async throws {
        let bucket = try await authorize(caller, bucket: name, .manage)
        let caller = try Self.tenant(of: caller)
        try await transaction { c in
            try await BucketStore.setPublicRead(c, id: bucket.id, value)
            try await event(caller, "bucket.policy", "bucket", name, ["public_read": "\(value)"]).insert(c)
        }
    }

    public func setTags(_ caller: Principal?, bucket name: String, _ tags: [String: String]) async throws {
        let bucket = try await authorize(caller, bucket: name, .manage)
        let caller = try Self.tenant(of: caller)
        try await transaction { c in
            try await BucketStore.setTags(c, id: bucket.id, tags)
            try await event(caller, "bucket.tags", "bucket", name, ["count": "\(tags.count)"]).insert(c)
        }
    }

    public func setLifecycle(_ caller: Principal?, bucket name: String, _ rules: [LifecycleRule]) async throws {
        let bucket = try await authorize(caller, bucket: name, .manage)
        let caller = try Self.tenant(of: caller)
        try await transaction { c in
            try await BucketStore.setLifecycle(c, id: bucket.id, rules)
            try await event(caller, "bucket.lifecycle", "bucket", name, ["rules": "\(rules.count)"]).insert(c)
        }
    }
}
