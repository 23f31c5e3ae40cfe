import Logging
import Metrics
/// Reserves and releases a tenant's quota in identity. Idempotent per key: retrying a
/// reservation never counts twice, releasing twice releases once.
public protocol StorageQuota: Sendable {
    /// Throws `QuotaRefused` when over a limit.
    func reserve(tenantID: String, key: String, buckets: Int, storageGB: Int) async throws
    func release(tenantID: String, key: String) async throws
}

/// Identity said no: the limit would be exceeded.
public struct QuotaRefused: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// No quota (tests of other logic, deployments without identity).
public struct UnlimitedQuota: StorageQuota {
    public init() {}
    public func reserve(tenantID: String, key: String, buckets: Int, storageGB: Int) async throws {}
    public func release(tenantID: String, key: String) async throws {}
}
