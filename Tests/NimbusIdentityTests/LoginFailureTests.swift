import Foundation
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

/// The code a login attempt ends with (`.ok` on success).
private func loginCode(_ core: IdentityCore, _ email: String, _ password: String, tenant: String = "") async -> RPCCode {
    do {
        _ = try await core.login(email: email, password: password, tenantID: tenant, requestID: "req-login")
        return .ok
    } catch {
        return RPCError(mapping: error).code
    }
}

private func loginError(_ core: IdentityCore, _ email: String, _ password: String, tenant: String = "") async -> IdentityError? {
    do {
        _ = try await core.login(email: email, password: password, tenantID: tenant, requestID: "req-login")
        return nil
    } catch {
        return error as? IdentityError
    }
}

/// Failed-login audit entries of one chain, oldest first.
private func failedLogins(_ env: TwoTenants, tenant: String) async throws -> [AuditEntry] {
    try await env.core.query("""
        SELECT \(AuditWriter.entryColumns) FROM identity.audit_events e
        WHERE e.tenant_id = $1::uuid AND e.action = 'auth.login_failed' ORDER BY e.seq
        """, tenant).map(AuditWriter.entry)
}

private func counterRows(_ env: TwoTenants) async throws -> Int64 {
    try await env.core.query("SELECT count(*) AS n FROM identity.login_failures")[0].decode(Int64.self, column: "n")
}

@Suite("Login throttle (pure)")
struct LoginThrottleUnitTests {
    @Test("over the limit the wait is what is left of the window, clamped to [1 s, window]")
    func retryAfter() {
        let throttle = LoginThrottle(maxFailures: 3, window: 60)
        let t0 = Date(timeIntervalSince1970: 1000)
        #expect(throttle.retryAfter(.init(attempts: 3, windowStart: t0), now: t0) == nil)
        #expect(throttle.retryAfter(.init(attempts: 4, windowStart: t0), now: t0.addingTimeInterval(10)) == 50)
        #expect(throttle.retryAfter(.init(attempts: 4, windowStart: t0), now: t0.addingTimeInterval(59.9)) == 1)
        #expect(throttle.retryAfter(.init(attempts: 4, windowStart: t0.addingTimeInterval(5)), now: t0) == 60)
    }

    @Test("the counter key is SHA-256 of the normalized email behind a domain label, never the email")
    func accountHash() {
        let hash = LoginThrottle.accountHash("alice@example.com")
        #expect(hash.count == 32)
        #expect(hash != SHA256.hash("alice@example.com"))
        #expect(hash == LoginThrottle.accountHash("alice@example.com"))
        #expect(hash != LoginThrottle.accountHash("bob@example.com"))
    }
}

@Suite("Login throttling shared through PostgreSQL, failed logins audited", .serialized)
struct LoginFailureTests {
    @Test("two replicas on one database share the limit: failures split between them lock the account at the limit")
    func sharedAcrossReplicas() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let replica = try makeCore(env.pool)  // a second identity process on the same database
        for i in 0..<5 {
            #expect(await loginCode(i % 2 == 0 ? env.core : replica, "alice@example.com", "wrong-password-\(i)") == .unauthenticated)
        }
        // Three failures on one, two on the other: both now refuse, even the right password.
        for core in [env.core, replica] {
            let error = await loginError(core, "Alice@Example.com ", "alice-password-1")
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.hasPrefix("too many failed logins; retry in ") == true)
        }
        // Another account is unaffected.
        #expect(await loginCode(replica, "bob@example.com", "bob-password-1") == .ok)
    }

    @Test("concurrent failures on two replicas are all counted and never get more than the limit of guesses")
    func concurrent() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let replica = try makeCore(env.pool)
        let cores = [env.core, replica]
        let codes = await withTaskGroup(of: RPCCode.self) { group in
            for i in 0..<20 {
                group.addTask { await loginCode(cores[i % 2], "alice@example.com", "wrong-password-\(i)") }
            }
            return await group.reduce(into: [RPCCode]()) { $0.append($1) }
        }
        // Exactly the limit of attempts reached a password check; the rest were refused.
        #expect(codes.filter { $0 == .unauthenticated }.count == 5)
        #expect(codes.filter { $0 == .resourceExhausted }.count == 15)
        let row = try await env.core.query("SELECT failures FROM identity.login_failures")
        #expect(try row.count == 1 && row.first?.decode(Int64.self, column: "failures") == 20)
        #expect(await loginCode(replica, "alice@example.com", "alice-password-1") == .resourceExhausted)
        // Every attempt is in the platform chain (no tenant was named), and the chain holds.
        let entries = try await failedLogins(env, tenant: platformAuditTenant)
        #expect(entries.filter { $0.metadata["reason"] == "bad_credentials" && $0.outcome == .failure }.count == 5)
        #expect(entries.filter { $0.metadata["reason"] == "throttled" && $0.outcome == .denied }.count == 16)
        #expect(try await env.core.verifyAuditChain(env.root, tenantID: platformAuditTenant).ok)
    }

    @Test("a successful login clears the count (the row is gone), so the next failures start from zero")
    func successClears() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let replica = try makeCore(env.pool)
        for i in 0..<4 { #expect(await loginCode(env.core, "alice@example.com", "wrong-\(i)-password") == .unauthenticated) }
        #expect(try await counterRows(env) == 1)
        #expect(await loginCode(replica, "alice@example.com", "alice-password-1") == .ok)
        #expect(try await counterRows(env) == 0)
        for i in 0..<5 { #expect(await loginCode(env.core, "alice@example.com", "wrong-\(i)-again") == .unauthenticated) }
        #expect(await loginCode(replica, "alice@example.com", "alice-password-1") == .resourceExhausted)
    }

    @Test("the window expires: refusals count down, then attempts are allowed again; expired rows are pruned")
    func windowExpiry() async throws {
        let clock = TestClock()
        let env = try await TwoTenants.make(clock: clock)
        defer { Task { await env.close() } }
        let core = try makeCore(env.pool, clock: clock, throttle: LoginThrottle(maxFailures: 3, window: 60))
        for i in 0..<3 { #expect(await loginCode(core, "alice@example.com", "wrong-\(i)-password") == .unauthenticated) }
        clock.advance(10)
        #expect(await loginError(core, "alice@example.com", "alice-password-1")?.message == "too many failed logins; retry in 50 s")
        clock.advance(49.5)
        #expect(await loginError(core, "alice@example.com", "alice-password-1")?.message == "too many failed logins; retry in 1 s")
        clock.advance(1)
        #expect(await loginCode(core, "alice@example.com", "alice-password-1") == .ok)

        // A stale counter (its window passed) counts as empty: a fresh window of 3 attempts.
        for i in 0..<2 { #expect(await loginCode(core, "alice@example.com", "wrong-\(i)-password") == .unauthenticated) }
        clock.advance(61)
        for i in 0..<3 { #expect(await loginCode(core, "alice@example.com", "wrong-\(i)-later") == .unauthenticated) }
        #expect(await loginCode(core, "alice@example.com", "alice-password-1") == .resourceExhausted)

        // Pruning removes only rows whose window has passed.
        #expect(await loginCode(core, "bob@example.com", "wrong-bob-password") == .unauthenticated)
        #expect(try await counterRows(env) == 2)
        await core.pruneLoginFailures()
        #expect(try await counterRows(env) == 2)
        clock.advance(61)
        await core.pruneLoginFailures()
        #expect(try await counterRows(env) == 0)
    }

    @Test("failed logins are audited in the requested tenant's chain (else the platform chain); the chains verify; no secret is stored")
    func audited() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let core = env.core
        let carol = try await core.createUser(env.aliceActor, .init(email: "carol@example.com", name: "Carol", password: "carol-password-1",
                                                                    role: "developer", isPlatformAdmin: false))
        _ = try await core.deactivateUser(env.aliceActor, id: carol.id, version: 0)

        // Unknown email, wrong password and inactive user: one answer to the caller.
        let answers = [
            await loginError(core, "alice@example.com", "secret-guess-wrong-1", tenant: env.tenantA.id),
            await loginError(core, "nobody@example.com", "secret-guess-wrong-2", tenant: env.tenantA.id),
            await loginError(core, "carol@example.com", "carol-password-1", tenant: env.tenantA.id),
            await loginError(core, "bob@example.com", "secret-guess-wrong-3", tenant: env.tenantA.id),
        ]
        for answer in answers {
            #expect(answer?.code == .unauthenticated && answer?.message == IdentityError.badCredentials.message)
        }
        let inTenant = try await failedLogins(env, tenant: env.tenantA.id)
        #expect(inTenant.count == 4)
        #expect(inTenant.allSatisfy { $0.outcome == .failure && $0.metadata["reason"] == "bad_credentials" && $0.actorUserID.isEmpty })
        #expect(inTenant.allSatisfy { $0.requestID == "req-login" && $0.source == "nimbus-identity" && $0.resourceType == "user" })
        // The user is named only where the chain's readers know them: members of tenant A.
        #expect(inTenant.map(\.resourceID) == [env.alice.id, "", carol.id, ""])

        // No tenant, a malformed one or one that does not exist: the platform chain, no new chain.
        #expect(await loginCode(core, "alice@example.com", "secret-guess-wrong-4") == .unauthenticated)
        #expect(await loginCode(core, "bob@example.com", "secret-guess-wrong-5", tenant: "not-a-uuid") == .unauthenticated)
        let missingTenant = UUID().uuidString
        #expect(await loginCode(core, "nobody@example.com", "secret-guess-wrong-6", tenant: missingTenant) == .unauthenticated)
        let platform = try await failedLogins(env, tenant: platformAuditTenant)
        #expect(platform.map(\.resourceID) == [env.alice.id, env.bob.id, ""])
        #expect(platform.map { $0.metadata["attempts"] } == ["2", "2", "2"])
        #expect(try await core.query("SELECT 1 AS x FROM identity.audit_chain_heads WHERE tenant_id = $1::uuid", missingTenant).isEmpty)

        // Throttled: a denied entry, in the requested tenant's chain.
        for i in 0..<3 { _ = await loginCode(core, "alice@example.com", "secret-guess-more-\(i)", tenant: env.tenantA.id) }
        #expect(await loginCode(core, "alice@example.com", "alice-password-1", tenant: env.tenantA.id) == .resourceExhausted)
        let last = try await failedLogins(env, tenant: env.tenantA.id).last
        #expect(last?.outcome == .denied && last?.metadata == ["reason": "throttled", "attempts": "6"] && last?.resourceID == env.alice.id)

        // Both chains still verify; tenant A's admin sees the entries through the API.
        #expect(try await core.verifyAuditChain(env.aliceActor, tenantID: env.tenantA.id).ok)
        #expect(try await core.verifyAuditChain(env.root, tenantID: platformAuditTenant).ok)
        var filter = IdentityCore.AuditFilter()
        filter.action = "auth.login_failed"
        #expect(try await core.listAuditEvents(env.aliceActor, filter: filter, pageSize: 50, pageToken: "").events.count == 8)

        // No password (tried or real) and no typed email of a failed attempt anywhere in the audit rows or counters.
        for secret in ["secret-guess", "alice-password-1", "carol-password-1", "nobody@example.com"] {
            let hits = try await core.query("""
                SELECT (SELECT count(*) FROM identity.audit_events e WHERE e::text ILIKE '%' || $1 || '%') +
                       (SELECT count(*) FROM identity.login_failures f WHERE f::text ILIKE '%' || $1 || '%') AS n
                """, secret)[0].decode(Int64.self, column: "n")
            #expect(hits == 0, "\(secret) found at rest")
        }
    }
}
