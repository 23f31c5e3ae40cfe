import Foundation
import NimbusPlatform
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

@Suite("Quota reservations against PostgreSQL", .serialized)
struct QuotaConcurrencyTests {
    static let compute = Actor(principal: .service("nimbus-compute"), requestID: "quota-test")

    @Test("100 concurrent reservations against a limit of 10 grant exactly 10; replays grant nothing; release restores")
    func concurrentReserve() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core, tenant = env.tenantA.id
        _ = try await core.setQuota(env.root, tenantID: tenant, limits: QuotaAmounts(instances: 10, vcpus: 1000, memoryMB: 100_000, storageGB: 1000, buckets: 10, databases: 10))

        let outcomes = try await withThrowingTaskGroup(of: (String, RPCCode).self) { group in
            for i in 0..<100 {
                group.addTask {
                    do {
                        _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "launch-\(i)",
                                                        deltas: QuotaAmounts(instances: 1, vcpus: 2))
                        return ("launch-\(i)", .ok)
                    } catch {
                        return ("launch-\(i)", RPCError(mapping: error).code)
                    }
                }
            }
            return try await group.reduce(into: [(String, RPCCode)]()) { $0.append($1) }
        }
        let granted = outcomes.filter { $0.1 == .ok }.map(\.0)
        #expect(granted.count == 10)
        #expect(outcomes.filter { $0.1 == .resourceExhausted }.count == 90)
        var quota = try await core.getQuota(Self.compute, tenantID: tenant)
        #expect(quota.used.instances == 10 && quota.used.vcpus == 20)

        // Replaying a granted key reserves nothing more.
        let replay = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: granted[0], deltas: QuotaAmounts(instances: 1, vcpus: 2))
        #expect(replay.replayed && replay.quota.used.instances == 10)
        // The same key with other amounts is refused.
        await #expect(throws: IdentityError.self) {
            try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: granted[0], deltas: QuotaAmounts(instances: 2))
        }
        // Over-limit answers name what is over.
        do {
            _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "one-more", deltas: QuotaAmounts(instances: 1))
            Issue.record("expected RESOURCE_EXHAUSTED")
        } catch let error as IdentityError {
            #expect(error.code == .resourceExhausted && error.message.contains("instances"))
        }

        for key in granted {
            let released = try await core.releaseQuota(Self.compute, tenantID: tenant, idempotencyKey: key)
            #expect(released.released)
        }
        quota = try await core.getQuota(Self.compute, tenantID: tenant)
        #expect(quota.used == QuotaAmounts())
        // Releasing twice releases once.
        let again = try await core.releaseQuota(Self.compute, tenantID: tenant, idempotencyKey: granted[0])
        #expect(!again.released && again.quota.used.instances == 0)
        await #expect(throws: IdentityError.self) {
            try await core.releaseQuota(Self.compute, tenantID: tenant, idempotencyKey: "never-reserved")
        }
    }

    @Test("the same idempotency key from 20 concurrent callers reserves once")
    func sameKeyConcurrently() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core, tenant = env.tenantA.id
        let replays = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "volume-42", deltas: QuotaAmounts(storageGB: 5)).replayed
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(replays.filter { !$0 }.count == 1)
        #expect(try await core.getQuota(Self.compute, tenantID: tenant).used.storageGB == 5)
    }

    @Test("negative deltas, empty keys and limits below usage are refused")
    func validation() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core, tenant = env.tenantA.id
        await #expect(throws: IdentityError.self) {
            try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "k", deltas: QuotaAmounts(instances: -1))
        }
        await #expect(throws: IdentityError.self) {
            try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "", deltas: QuotaAmounts(instances: 1))
        }
        _ = try await core.reserveQuota(Self.compute, tenantID: tenant, idempotencyKey: "k", deltas: QuotaAmounts(instances: 3))
        do {
            _ = try await core.setQuota(env.root, tenantID: tenant, limits: QuotaAmounts(instances: 2, vcpus: 1, memoryMB: 1, storageGB: 1, buckets: 1, databases: 1))
            Issue.record("expected FAILED_PRECONDITION")
        } catch let error as IdentityError {
            #expect(error.code == .failedPrecondition)
        }
        // A tenant admin (not a platform admin) cannot raise their own quota.
        await #expect(throws: AuthorizationError.self) {
            try await core.setQuota(env.aliceActor, tenantID: tenant, limits: QuotaAmounts.defaultLimits)
        }
        // Deleting a tenant that still holds quota is refused unless a platform admin forces it.
        do {
            try await core.deleteTenant(env.aliceActor, id: tenant, force: false)
            Issue.record("expected FAILED_PRECONDITION")
        } catch let error as IdentityError {
            #expect(error.code == .failedPrecondition && error.message.contains("instances=3"))
        }
        var rootInA = env.root
        rootInA.principal.tenantID = tenant
        try await core.deleteTenant(rootInA, id: tenant, force: true)
        await #expect(throws: IdentityError.self) { try await core.getTenant(env.root, id: tenant) }
    }
}
