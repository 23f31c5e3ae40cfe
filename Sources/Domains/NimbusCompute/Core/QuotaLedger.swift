/// Reserves and releases a tenant's quota (kept by identity). Both calls are idempotent per
/// key: retrying a reservation never counts twice, releasing twice releases once.
public protocol QuotaLedger: Sendable {
    /// Throws RESOURCE_EXHAUSTED (as an `RPCError`) when over a limit.
    func reserve(tenantID: String, key: String, instances: Int, vcpus: Int, memoryMB: Int) async throws
    func release(tenantID: String, key: String) async throws
}
