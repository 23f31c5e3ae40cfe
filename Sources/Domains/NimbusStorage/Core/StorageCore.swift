import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

/// The storage service's behaviour, independent of the transport: the S3 face (and later the
/// native API) call it with the caller (nil: anonymous) and parsed arguments; it answers with
/// model values or throws `S3Error`.
public struct StorageCore: Sendable {
    public let db: PostgresPool
    public let blobs: any BlobStore
    public let quota: any StorageQuota
    public let logger: Logger
    /// How long unreferenced bytes stay before the janitor removes them (readers that looked a
    /// row up just before it went still find its bytes).
    public let grace: Duration
    public let metrics: StorageMetrics

    public init(db: PostgresPool, blobs: any BlobStore, quota: any StorageQuota, logger: Logger, grace: Duration = .seconds(300),
                metrics: StorageMetrics = StorageMetrics()) {
        self.db = db
        self.blobs = blobs
        self.quota = quota
        self.logger = logger
        self.grace = grace
        self.metrics = metrics
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await db.withTransaction(retry: .retryable) { try await body($0) }
        } catch let error as PostgresError {
            throw Self.mapping(error)
        }
    }

    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await db.withConnection { try await body($0) }
        } catch let error as PostgresError {
            throw Self.mapping(error)
        }
    }

    static func mapping(_ error: PostgresError) -> any Error {
        switch (error.kind, error.constraint) {
        case (.uniqueViolation, "buckets_name_unique"?): S3Error.bucketAlreadyExists
        case (.foreignKeyViolation, "objects_bucket_fkey"?), (.foreignKeyViolation, "multipart_uploads_bucket_fkey"?): S3Error.noSuchBucket
        case (.foreignKeyViolation, "multipart_parts_upload_fkey"?): S3Error.noSuchUpload
        default: error
        }
    }

    func event(_ caller: Principal, _ action: String, _ type: String, _ id: String, _ metadata: [String: String] = [:]) -> AuditEvent {
        AuditEvent(tenantID: caller.tenantID, actorUserID: caller.userID, actorKeyID: caller.keyID, action: action,
                   resourceType: type, resourceID: id, metadata: metadata)
    }

    static func newBlobID() -> String { UUID().uuidString.lowercased() }
}

/// An audit event written to storage.outbox in the transaction of the change it records.
struct AuditEvent: Sendable {
    var tenantID: String
    var actorUserID: String
    var actorKeyID: String
    var action: String
    var resourceType: String
    var resourceID: String
    var metadata: [String: String]

    func insert(_ c: PostgresConnection) async throws {
        _ = try await c.execute("""
            INSERT INTO storage.outbox (tenant_id, actor_user_id, actor_key_id, action, resource_type, resource_id, metadata)
            VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::jsonb)
            """, tenantID, actorUserID, actorKeyID, action, resourceType, resourceID, try PostgresJSONB(encoding: metadata))
    }
}

/// What the caller may do with a bucket.
enum BucketAccess {
    case read, write, manage

    var permission: Permission {
        switch self {
        case .read: .bucketRead
        case .write: .bucketWrite
        case .manage: .bucketManage
        }
    }
}
