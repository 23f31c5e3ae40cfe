import Foundation
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

private func unauthenticated(_ body: () async throws -> Principal) async -> Bool {
    do {
        _ = try await body()
        return false
    } catch {
        return RPCError(mapping: error).code == .unauthenticated
    }
}

@Suite("Authenticate, revocation and rotation against PostgreSQL", .serialized)
struct AuthenticateTests {
    @Test("a revoked key fails on the very next Authenticate, on this replica and on another")
    func revocation() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let replica = try makeCore(env.pool)  // a second identity process: its own cache
        let created = try await env.core.createApiKey(env.aliceActor, name: "ci", expiresAt: nil, userID: "")
        // Warm both caches.
        let principal = try await env.core.authenticate(apiKey: created.secret)
        #expect(principal.userID == env.alice.id && principal.tenantID == env.tenantA.id && principal.keyID == created.key.id)
        #expect(principal.role == "admin" && principal.has(.iamManage))
        #expect(try await replica.authenticate(apiKey: created.secret) == principal)
        #expect(env.core.cache.count >= 1 && replica.cache.count >= 1)

        _ = try await env.core.revokeApiKey(env.aliceActor, id: created.key.id)
        #expect(await unauthenticated { try await env.core.authenticate(apiKey: created.secret) })
        #expect(await unauthenticated { try await replica.authenticate(apiKey: created.secret) })
    }

    @Test("last_used_at is written by the batched flush, not by Authenticate")
    func lastUsed() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let created = try await env.core.createApiKey(env.aliceActor, name: "used", expiresAt: nil, userID: "")
        for _ in 0..<5 { _ = try await env.core.authenticate(apiKey: created.secret) }
        #expect(try await env.core.getApiKey(env.aliceActor, id: created.key.id).lastUsedAt == nil)
        await env.core.flushLastUsed()
        #expect(try await env.core.getApiKey(env.aliceActor, id: created.key.id).lastUsedAt != nil)
    }

    @Test("a rotated key's old secret works until its sunset, then fails; the new one keeps working")
    func rotation() async throws {
        let clock = TestClock()
        let env = try await TwoTenants.make(clock: clock)
        defer { Task { await env.close() } }
        let core = env.core
        let created = try await core.createApiKey(env.aliceActor, name: "deploy", expiresAt: nil, userID: "")
        _ = try await core.authenticate(apiKey: created.secret)

        let rotated = try await core.rotateApiKey(env.aliceActor, id: created.key.id, previousValidUntil: clock.now().addingTimeInterval(60))
        #expect(rotated.secret != created.secret && rotated.key.prefix == created.key.prefix)
        #expect(try await core.authenticate(apiKey: created.secret).keyID == created.key.id)
        #expect(try await core.authenticate(apiKey: rotated.secret).keyID == created.key.id)
        clock.advance(61)
        #expect(await unauthenticated { try await core.authenticate(apiKey: created.secret) })
        #expect(try await core.authenticate(apiKey: rotated.secret).keyID == created.key.id)

        // Rotating without a sunset retires the old secret at once.
        let again = try await core.rotateApiKey(env.aliceActor, id: created.key.id, previousValidUntil: nil)
        #expect(await unauthenticated { try await core.authenticate(apiKey: rotated.secret) })
        #expect(try await core.authenticate(apiKey: again.secret).keyID == created.key.id)
    }

    @Test("expiry, deactivation, membership removal and tampered secrets all fail")
    func otherFailures() async throws {
        let clock = TestClock()
        let env = try await TwoTenants.make(clock: clock)
        defer { Task { await env.close() } }
        let core = env.core
        let expiring = try await core.createApiKey(env.aliceActor, name: "short", expiresAt: clock.now().addingTimeInterval(10), userID: "")
        #expect(try await core.authenticate(apiKey: expiring.secret).userID == env.alice.id)
        clock.advance(11)
        #expect(await unauthenticated { try await core.authenticate(apiKey: expiring.secret) })

        // A key of a member who is then deactivated stops at once.
        let carol = try await core.createUser(env.aliceActor, .init(email: "carol@example.com", name: "Carol", password: "carol-password-1",
                                                                    role: "developer", isPlatformAdmin: false))
        let carolActor = Actor(principal: Principal(userID: carol.id, tenantID: env.tenantA.id, role: "developer",
                                                    permissions: BuiltInRole.developer.permissions), requestID: "r")
        let carolKey = try await core.createApiKey(carolActor, name: "laptop", expiresAt: nil, userID: "")
        let carolPrincipal = try await core.authenticate(apiKey: carolKey.secret)
        #expect(carolPrincipal.role == "developer" && !carolPrincipal.has(.iamManage))
        _ = try await core.deactivateUser(env.aliceActor, id: carol.id, version: 0)
        #expect(await unauthenticated { try await core.authenticate(apiKey: carolKey.secret) })

        // Removing a member stops their keys in that tenant.
        let dave = try await core.createUser(env.aliceActor, .init(email: "dave@example.com", name: "Dave", password: "dave-password-12",
                                                                   role: "viewer", isPlatformAdmin: false))
        let daveKey = try await core.createApiKey(env.aliceActor, name: "for-dave", expiresAt: nil, userID: dave.id)
        #expect(try await core.authenticate(apiKey: daveKey.secret).role == "viewer")
        try await core.removeMember(env.aliceActor, tenantID: env.tenantA.id, userID: dave.id)
        #expect(await unauthenticated { try await core.authenticate(apiKey: daveKey.secret) })

        // Same prefix, wrong secret; garbage.
        var forged = Array(env.rootKey)
        forged[forged.count - 2] = forged[forged.count - 2] == "A" ? "B" : "A"
        #expect(await unauthenticated { try await core.authenticate(apiKey: String(forged)) })
        #expect(await unauthenticated { try await core.authenticate(apiKey: "nmb_nothing") })
        #expect(await unauthenticated { try await core.authenticate(apiKey: "") })
    }

    @Test("login: right password gives a session key; wrong ones are throttled without growing memory")
    func login() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core
        let session = try await core.login(email: "ALICE@example.com", password: "alice-password-1", tenantID: env.tenantA.id, requestID: "r")
        #expect(session.user.id == env.alice.id && session.tenant.id == env.tenantA.id)
        #expect(try await core.authenticate(apiKey: session.secret).tenantID == env.tenantA.id)
        for _ in 0..<5 {
            await #expect(throws: IdentityError.self) { try await core.login(email: "alice@example.com", password: "wrong", tenantID: "", requestID: "r") }
        }
        do {
            _ = try await core.login(email: "alice@example.com", password: "alice-password-1", tenantID: "", requestID: "r")
            Issue.record("expected throttling")
        } catch let error as IdentityError {
            #expect(error.code == .resourceExhausted)
        }
        // Unknown emails and wrong passwords look alike.
        do {
            _ = try await core.login(email: "nobody@example.com", password: "whatever-123", tenantID: "", requestID: "r")
        } catch let error as IdentityError {
            #expect(error.code == .unauthenticated && error.message == IdentityError.badCredentials.message)
        }
        // A tenant the user does not belong to is not found.
        await #expect(throws: IdentityError.self) {
            try await core.login(email: "bob@example.com", password: "bob-password-1", tenantID: env.tenantA.id, requestID: "r")
        }
    }
}

@Suite("Users, audit chain and schema against PostgreSQL", .serialized)
struct UsersAndAuditTests {
    @Test("concurrent updates with the same version: exactly one wins, the others get ABORTED, nothing is lost")
    func optimisticLocking() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core
        let target = try await core.createUser(env.aliceActor, .init(email: "erin@example.com", name: "Erin", password: "erin-password-1",
                                                                     role: "viewer", isPlatformAdmin: false))
        let results = try await withThrowingTaskGroup(of: (String, RPCCode).self) { group in
            for i in 0..<10 {
                group.addTask {
                    do {
                        _ = try await core.updateUser(env.aliceActor, id: target.id, version: target.version, .init(name: "Erin \(i)"))
                        return ("Erin \(i)", .ok)
                    } catch {
                        return ("Erin \(i)", RPCError(mapping: error).code)
                    }
                }
            }
            return try await group.reduce(into: [(String, RPCCode)]()) { $0.append($1) }
        }
        let winners = results.filter { $0.1 == .ok }
        #expect(winners.count == 1)
        #expect(results.filter { $0.1 == .aborted }.count == 9)
        let after = try await core.getUser(env.aliceActor, id: target.id)
        #expect(after.version == target.version + 1 && after.name == winners.first?.0)
        // Re-reading and retrying with the new version succeeds.
        let retried = try await core.updateUser(env.aliceActor, id: target.id, version: after.version, .init(name: "Erin final"))
        #expect(retried.version == after.version + 1)
    }

    @Test("emails are unique case-insensitively; a failed mutation leaves no audit entry")
    func uniqueEmail() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let before = try await env.core.query("SELECT count(*) AS n FROM identity.audit_events")[0].decode(Int64.self, column: "n")
        do {
            _ = try await env.core.createUser(env.aliceActor, .init(email: "Alice@Example.COM", name: "Dup", password: "some-password-1",
                                                                    role: "", isPlatformAdmin: false))
            Issue.record("expected ALREADY_EXISTS")
        } catch let error as IdentityError {
            #expect(error.code == .alreadyExists)
        }
        #expect(try await env.core.query("SELECT count(*) AS n FROM identity.audit_events")[0].decode(Int64.self, column: "n") == before)
    }

    @Test("VerifyAuditChain passes on a clean log and fails after a row is altered or deleted in SQL")
    func auditChain() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core
        for i in 0..<5 {
            _ = try await core.createRole(env.aliceActor, name: "role-\(i)", description: "", permissions: ["instance:read"])
        }
        // Another service's events, delivered twice: appended once.
        let compute = Actor(principal: .service("nimbus-compute"), requestID: "r")
        let event = AuditDraft(eventID: "compute-evt-1", tenantID: env.tenantA.id, actorUserID: env.alice.id, actorKeyID: "",
                               action: "instance.launch", resourceType: "instance", resourceID: "i-1", outcome: .success,
                               requestID: "req-9", source: "nimbus-compute", occurredAtMicros: 1_800_000_000_000_123, metadata: ["image": "busybox"])
        #expect(try await core.appendAuditEvents(compute, [event]) == (1, 0))
        #expect(try await core.appendAuditEvents(compute, [event]) == (0, 1))

        let clean = try await core.verifyAuditChain(env.aliceActor, tenantID: "")
        #expect(clean.ok && clean.checked >= 7)
        let listed = try await core.listAuditEvents(env.aliceActor, filter: .init(action: "instance.launch"), pageSize: 10, pageToken: "")
        #expect(listed.events.count == 1 && listed.events[0].metadata == ["image": "busybox"])
        // Tenant B's chain is separate and clean.
        #expect(try await core.verifyAuditChain(env.bobActor, tenantID: "").ok)

        _ = try await core.query("UPDATE identity.audit_events SET resource_id = 'forged' WHERE tenant_id = $1::uuid AND seq = 3", env.tenantA.id)
        let altered = try await core.verifyAuditChain(env.aliceActor, tenantID: "")
        #expect(!altered.ok && altered.firstBadSeq == 3)

        let env2 = try await TwoTenants.make()
        defer { Task { await env2.close() } }
        _ = try await env2.core.createRole(env2.aliceActor, name: "x", description: "", permissions: [])
        _ = try await env2.core.createRole(env2.aliceActor, name: "y", description: "", permissions: [])
        _ = try await env2.core.query("DELETE FROM identity.audit_events WHERE tenant_id = $1::uuid AND seq = 2", env2.tenantA.id)
        #expect(!(try await env2.core.verifyAuditChain(env2.aliceActor, tenantID: "")).ok)
        _ = try await env2.core.query("DELETE FROM identity.audit_events WHERE tenant_id = $1::uuid AND seq = (SELECT max(seq) FROM identity.audit_events WHERE tenant_id = $1::uuid)", env2.tenantB.id)
        #expect(!(try await env2.core.verifyAuditChain(env2.bobActor, tenantID: "")).ok)
    }

    @Test("the migration's built-in roles match BuiltInRole, and down reverses up")
    func schemaMatchesCode() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        for role in BuiltInRole.allCases {
            let rows = try await env.core.query("""
                SELECT p.permission FROM identity.role_permissions p JOIN identity.roles r ON r.id = p.role_id
                WHERE r.name = $1 AND r.tenant_id IS NULL
                """, role.rawValue)
            #expect(try Set(rows.map { Permission(try $0.decode(String.self, column: "permission")) }) == role.permissions, "\(role)")
        }
        // Down reverses up completely (the migrator's bookkeeping table is all that stays).
        _ = try await identityMigrator(env.pool).down(steps: 1)  // 0005: the S3 credentials go, the rest stays
        let s3 = try await env.core.query("SELECT to_regclass('identity.s3_credentials')::text AS c, to_regclass('identity.worker_leases')::text AS l")
        #expect(try s3[0].decode(String?.self, column: "c") == nil && s3[0].decode(String?.self, column: "l") != nil)
        _ = try await identityMigrator(env.pool).down(steps: 1)  // 0004: the background-work tables go, the rest stays
        let background = try await env.core.query("SELECT to_regclass('identity.worker_leases')::text AS l, to_regclass('identity.login_failures')::text AS f")
        #expect(try background[0].decode(String?.self, column: "l") == nil && background[0].decode(String?.self, column: "f") != nil)
        _ = try await identityMigrator(env.pool).down(steps: 1)  // 0003: the failed-login counters go, the rest stays
        let counters = try await env.core.query("SELECT to_regclass('identity.login_failures')::text AS t, to_regclass('identity.auth_watchers')::text AS w")
        #expect(try counters[0].decode(String?.self, column: "t") == nil && counters[0].decode(String?.self, column: "w") != nil)
        _ = try await identityMigrator(env.pool).down(steps: 1)  // 0002: the lease table goes, the rest stays
        let watchers = try await env.core.query("SELECT to_regclass('identity.auth_watchers')::text AS t, to_regclass('identity.api_keys')::text AS k")
        #expect(try watchers[0].decode(String?.self, column: "t") == nil && watchers[0].decode(String?.self, column: "k") != nil)
        _ = try await identityMigrator(env.pool).down(steps: 1)
        let left = try await env.core.query("SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'identity' AND c.relname NOT LIKE 'schema_migrations%'")
        #expect(try left[0].decode(Int64.self, column: "n") == 0)
    }
}
