import Foundation
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

@Suite("Quota reservations are audited in their transactions", .serialized)
struct QuotaAuditTests {
    static let compute = Actor(principal: .service("nimbus-compute"), requestID: "req-quota")

    private func quotaEntries(_ env: TwoTenants) async throws -> [AuditEntry] {
        try await env.core.query("""
            SELECT \(AuditWriter.entryColumns) FROM identity.audit_events e
            WHERE e.tenant_id = $1::uuid AND e.action LIKE 'quota.re%' ORDER BY e.seq
            """, env.tenantA.id).map(AuditWriter.entry)
    }

    @Test("reserve, refusal and release each write one entry; replays, second releases and rolled-back calls write none")
    func reserveAndRelease() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core, tenant = env.tenantA.id
        _ = try await core.setQuota(env.root, tenantID: tenant, limits: QuotaAmounts(instances: 2, vcpus: 8, memoryMB: 4096, storageGB: 10, buckets: 1, databases: 1))

        _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-1", deltas: QuotaAmounts(instances: 1, vcpus: 2, memoryMB: 512))
        var entries = try await quotaEntries(env)
        #expect(entries.count == 1)
        let reserved = try #require(entries.first)
        #expect(reserved.action == "quota.reserve" && reserved.outcome == .success && reserved.resourceType == "quota" && reserved.resourceID == tenant)
        #expect(reserved.actorUserID == "service:nimbus-compute" && reserved.requestID == "req-quota")
        #expect(reserved.metadata["idempotency_key"] == "launch-1" && reserved.metadata["instances"] == "1"
                && reserved.metadata["vcpus"] == "2" && reserved.metadata["memory_mb"] == "512" && reserved.metadata["buckets"] == "0")

        // A replay reserves nothing and audits nothing; a conflicting replay fails and audits nothing.
        #expect(try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-1",
                                            deltas: QuotaAmounts(instances: 1, vcpus: 2, memoryMB: 512)).replayed)
        await #expect(throws: IdentityError.self) {
            try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-1", deltas: QuotaAmounts(instances: 2))
        }
        #expect(try await quotaEntries(env).count == 1)

        // Over the limit: RESOURCE_EXHAUSTED, nothing reserved, one `denied` entry naming what is over.
        do {
            _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-big", deltas: QuotaAmounts(instances: 1, vcpus: 7))
            Issue.record("expected RESOURCE_EXHAUSTED")
        } catch let error as IdentityError {
            #expect(error.code == .resourceExhausted && error.message.contains("vcpus"))
        }
        #expect(try await core.getQuota(Self.compute, tenantID: tenant).used == QuotaAmounts(instances: 1, vcpus: 2, memoryMB: 512))
        #expect(try await core.query("SELECT 1 AS x FROM identity.quota_reservations WHERE idempotency_key = 'launch-big'").isEmpty)
        entries = try await quotaEntries(env)
        #expect(entries.count == 2)
        #expect(entries.last?.outcome == .denied && entries.last?.metadata["idempotency_key"] == "launch-big"
                && entries.last?.metadata["over"]?.hasPrefix("vcpus: 2 used + 7 requested > limit 8") == true)
        // The refused key is free again: a retry within the limit is granted.
        _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-big", deltas: QuotaAmounts(instances: 1, vcpus: 6))

        // Release: one entry with the amounts given back; a second release audits nothing.
        #expect(try await core.releaseQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-1").released)
        #expect(!(try await core.releaseQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-1").released))
        entries = try await quotaEntries(env)
        #expect(entries.map(\.action) == ["quota.reserve", "quota.reserve", "quota.reserve", "quota.release"])
        #expect(entries.last?.metadata["vcpus"] == "2" && entries.last?.metadata["memory_mb"] == "512" && entries.last?.outcome == .success)
        #expect(try await core.verifyAuditChain(env.aliceActor, tenantID: tenant).ok)
    }

    @Test("50 concurrent reservations against a limit of 5: 5 granted and 45 denied entries, and the chain verifies")
    func concurrent() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core, tenant = env.tenantA.id
        _ = try await core.setQuota(env.root, tenantID: tenant, limits: QuotaAmounts(instances: 5, vcpus: 100, memoryMB: 1000, storageGB: 10, buckets: 1, databases: 1))
        let codes = await withTaskGroup(of: RPCCode.self) { group in
            for i in 0..<50 {
                group.addTask {
                    do {
                        _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "k-\(i)", deltas: QuotaAmounts(instances: 1))
                        return .ok
                    } catch {
                        return RPCError(mapping: error).code
                    }
                }
            }
            return await group.reduce(into: [RPCCode]()) { $0.append($1) }
        }
        #expect(codes.filter { $0 == .ok }.count == 5)
        let entries = try await quotaEntries(env)
        #expect(entries.filter { $0.outcome == .success }.count == 5 && entries.filter { $0.outcome == .denied }.count == 45)
        #expect(try await core.verifyAuditChain(env.aliceActor, tenantID: tenant).ok)
    }
}
