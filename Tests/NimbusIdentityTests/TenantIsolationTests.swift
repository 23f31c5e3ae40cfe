import Foundation
import NimbusPlatform
import NimbusPostgres
import NimbusProto
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

/// Every read and write RPC, called by an admin of tenant B (all tenant permissions) on a
/// resource of tenant A, answers NOT_FOUND and changes nothing — through the RPC handlers,
/// with the principal signed in metadata as other services send it.
@Suite("Tenant isolation matrix", .serialized)
struct TenantIsolationTests {
    static func context(_ principal: Principal, _ method: String) -> ServerContext {
        ServerContext(method: MethodDescriptor(service: "nimbus.identity.v1.Test", method: method, kind: .unary),
                      metadata: CallOptions.acting(as: principal, signer: testSigner).metadata, deadline: nil, peer: "127.0.0.1:1")
    }

    /// A digest of every identity row: any change anywhere alters it.
    static func fingerprint(_ core: IdentityCore) async throws -> String {
        let tables = ["users", "tenants", "tenant_members", "roles", "role_permissions", "api_keys", "tenant_quotas",
                      "quota_reservations", "audit_events", "audit_chain_heads"]
        let union = tables.map { "SELECT '\($0)' || t::text AS x FROM identity.\($0) t" }.joined(separator: " UNION ALL ")
        return try await core.query("SELECT md5(string_agg(x, '|' ORDER BY x)) AS digest FROM (\(union)) rows")[0].decode(String.self, column: "digest")
    }

    @Test("tenant B addressing tenant A's resources gets NOT_FOUND for every RPC and changes nothing")
    func matrix() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core
        // Tenant A's resources.
        let roleA = try await core.createRole(env.aliceActor, name: "auditor", description: "", permissions: ["audit:read"])
        let keyA = try await core.createApiKey(env.aliceActor, name: "a-key", expiresAt: nil, userID: "")
        let compute = Actor(principal: .service("nimbus-compute"), requestID: "r")
        _ = try await core.reserveQuota(compute, tenantID: env.tenantA.id, idempotencyKey: "a-launch", deltas: QuotaAmounts(instances: 1))
        let alice = try await core.getUser(env.aliceActor, id: env.alice.id)

        let users = UsersHandler(core: core), tenants = TenantsHandler(core: core), roles = RolesHandler(core: core)
        let keys = ApiKeysHandler(core: core), quotas = QuotasHandler(core: core), audit = AuditHandler(core: core)
        let a = env.tenantA.id
        let cases: [(String, (ServerContext) async throws -> Void)] = [
            ("GetUser", { _ = try await users.getUser(.init(id: alice.id), context: $0) }),
            ("UpdateUser", { _ = try await users.updateUser(.init(id: alice.id, version: alice.version, name: "Mallory"), context: $0) }),
            ("DeactivateUser", { _ = try await users.deactivateUser(.init(id: alice.id, version: alice.version), context: $0) }),
            ("DeleteUser", { _ = try await users.deleteUser(.init(id: alice.id), context: $0) }),
            ("GetTenant", { _ = try await tenants.getTenant(.init(id: a), context: $0) }),
            ("DeleteTenant", { _ = try await tenants.deleteTenant(.init(id: a, force: false), context: $0) }),
            ("DeleteTenant(force)", { _ = try await tenants.deleteTenant(.init(id: a, force: true), context: $0) }),
            ("AddMember", { _ = try await tenants.addMember(.init(tenantId: a, userId: env.bob.id, role: "admin"), context: $0) }),
            ("UpdateMember", { _ = try await tenants.updateMember(.init(tenantId: a, userId: alice.id, role: "viewer"), context: $0) }),
            ("RemoveMember", { _ = try await tenants.removeMember(.init(tenantId: a, userId: alice.id), context: $0) }),
            ("ListMembers", { _ = try await tenants.listMembers(.init(tenantId: a), context: $0) }),
            ("SetDefaultTenant", { _ = try await tenants.setDefaultTenant(.init(tenantId: a), context: $0) }),
            ("GetRole", { _ = try await roles.getRole(.init(id: roleA.id), context: $0) }),
            ("UpdateRole", { _ = try await roles.updateRole(.init(id: roleA.id, permissions: ["iam:manage"]), context: $0) }),
            ("DeleteRole", { _ = try await roles.deleteRole(.init(id: roleA.id), context: $0) }),
            ("CreateApiKey(for A's user)", { _ = try await keys.createApiKey(.init(name: "x", userId: alice.id), context: $0) }),
            ("ListApiKeys(of A's user)", { _ = try await keys.listApiKeys(.init(userId: alice.id), context: $0) }),
            ("GetApiKey", { _ = try await keys.getApiKey(.init(id: keyA.key.id), context: $0) }),
            ("RevokeApiKey", { _ = try await keys.revokeApiKey(.init(id: keyA.key.id), context: $0) }),
            ("RotateApiKey", { _ = try await keys.rotateApiKey(.init(id: keyA.key.id), context: $0) }),
            ("GetQuota", { _ = try await quotas.getQuota(.init(tenantId: a), context: $0) }),
            ("SetQuota", { _ = try await quotas.setQuota(.init(tenantId: a, limits: .init(instances: 1000)), context: $0) }),
            ("ReserveQuota", { _ = try await quotas.reserveQuota(.init(tenantId: a, idempotencyKey: "b-steals", deltas: .init(instances: 1)), context: $0) }),
            ("ReleaseQuota", { _ = try await quotas.releaseQuota(.init(tenantId: a, idempotencyKey: "a-launch"), context: $0) }),
            ("VerifyAuditChain", { _ = try await audit.verifyAuditChain(.init(tenantId: a), context: $0) }),
        ]

        let before = try await Self.fingerprint(core)
        for (name, call) in cases {
            do {
                try await call(Self.context(env.bobActor.principal, name))
                Issue.record("\(name): succeeded across tenants")
            } catch {
                let code = RPCError(mapping: error).code
                #expect(code == .notFound, "\(name): \(code) (\(error))")
            }
        }
        #expect(try await Self.fingerprint(core) == before, "a cross-tenant call changed data")

        // Tenant-scoped lists show B's own things only.
        let ctx = Self.context(env.bobActor.principal, "lists")
        #expect(try await users.listUsers(.init(), context: ctx).users.map(\.id) == [env.bob.id])
        #expect(!(try await roles.listRoles(.init(), context: ctx).roles.contains { $0.id == roleA.id }))
        #expect(try await keys.listApiKeys(.init(), context: ctx).keys.isEmpty)
        #expect(!(try await audit.listAuditEvents(.init(), context: ctx).events.contains { $0.tenantId == a }))
        #expect(!(try await tenants.listTenants(.init(), context: ctx).tenants.contains { $0.id == a }))

        // The same calls by tenant A's admin work (the matrix is not vacuous).
        let own = Self.context(env.aliceActor.principal, "own")
        #expect(try await users.getUser(.init(id: alice.id), context: own).id == alice.id)
        #expect(try await keys.getApiKey(.init(id: keyA.key.id), context: own).id == keyA.key.id)
        #expect(try await audit.verifyAuditChain(.init(), context: own).ok)
    }

    @Test("unsigned, tampered and expired principals are UNAUTHENTICATED")
    func unsigned() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let users = UsersHandler(core: env.core)
        let method = MethodDescriptor(service: "nimbus.identity.v1.Users", method: "ListUsers", kind: .unary)
        var tampered = CallOptions.acting(as: env.bobActor.principal, signer: testSigner).metadata
        var token = tampered.binary(PrincipalSigner.metadataKey)!
        token[20] ^= 1
        tampered.remove(PrincipalSigner.metadataKey)
        tampered.add(PrincipalSigner.metadataKey, binary: token)
        let expiredSigner = try PrincipalSigner(key: Secret("identity-tests-principal-key-0123456789"), now: { Date().addingTimeInterval(-3600) })
        let expired = CallOptions.acting(as: env.bobActor.principal, signer: expiredSigner).metadata
        for metadata in [Metadata(), tampered, expired] {
            let context = ServerContext(method: method, metadata: metadata, deadline: nil, peer: "127.0.0.1:1")
            do {
                _ = try await users.listUsers(.init(), context: context)
                Issue.record("accepted a bad principal")
            } catch {
                #expect(RPCError(mapping: error).code == .unauthenticated)
            }
        }
    }
}
