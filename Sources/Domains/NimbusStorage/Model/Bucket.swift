import Foundation

public enum VersioningState: String, Sendable, Codable {
    case unversioned = "UNVERSIONED", enabled = "ENABLED", suspended = "SUSPENDED"

    /// The version id a new write gets: a fresh id when enabled, else S3's literal `null`.
    func newVersionID() -> String {
        self == .enabled ? ObjectVersion.makeVersionID() : ObjectVersion.nullVersion
    }

    /// S3's `<Status>` (absent for a bucket that was never versioned).
    var s3Status: String? {
        switch self {
        case .unversioned: nil
        case .enabled: "Enabled"
        case .suspended: "Suspended"
        }
    }
}

/// One lifecycle rule: expire current versions after `expirationDays`, noncurrent ones after
/// `noncurrentDays`, abort incomplete multipart uploads after `abortIncompleteDays`.
public struct LifecycleRule: Sendable, Codable, Equatable {
    public var id: String
    public var prefix: String
    public var enabled: Bool
    public var expirationDays: Int?
    public var noncurrentDays: Int?
    public var abortIncompleteDays: Int?
}

public struct Bucket: Sendable, Equatable {
    public var id: String
    public var name: String
    public var tenantID: String
    public var versioning: VersioningState
    public var publicRead: Bool
    public var lifecycle: [LifecycleRule]
    public var tags: [String: String]
    public var quotaKey: String
    public var createdAt: Date
}
