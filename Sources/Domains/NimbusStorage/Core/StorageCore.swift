import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusBackground
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

/// An audit event for identity, written to the shared outbox (NimbusBackground, topic
/// "audit") in the transaction of the change it records; `AuditRelay` delivers it.
struct AuditEvent: Sendable, Codable {
    static let topic = "audit"
    static let schema = BackgroundSchema(schema: "storage", service: "nimbus-storage")

    var tenantID: String
    var actorUserID: String
    var actorKeyID: String
    var action: String
    var resourceType: String
    var resourceID: String
    var outcome = "SUCCESS"
    var metadata: [String: String]

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id", actorUserID = "actor_user_id", actorKeyID = "actor_key_id", action
        case resourceType = "resource_type", resourceID = "resource_id", outcome, metadata
    }

    func insert(_ c: PostgresConnection) async throws {
        guard UUID(uuidString: tenantID) != nil else { return }  // service-initiated (lifecycle): no tenant actor
        try await Outbox(schema: Self.schema).append(self, topic: Self.topic, in: c)
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
