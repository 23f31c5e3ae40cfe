import Foundation
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import Testing
@testable import NimbusIdentity

private let testKEK = Secret("aWRlbnRpdHktdGVzdHMta2V5LWVuY3J5cHRpb24ta2s")
private let storage = Principal.service("nimbus-storage")

private func code(_ body: () async throws -> Void) async -> RPCCode? {
    do {
        try await body()
        return nil
    } catch {
        return RPCError(mapping: error).code
    }
}

private func today(_ offsetDays: Int = 0) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd"
    return formatter.string(from: Date().addingTimeInterval(TimeInterval(offsetDays) * 86_400))
}

@Suite("S3 credentials against PostgreSQL", .serialized)
struct S3CredentialTests {
    private func store(_ env: TwoTenants) throws -> S3CredentialStore {
        S3CredentialStore(pool: env.pool, cipher: try S3SecretCipher(keyEncryptionKey: testKEK))
    }

    @Test("SigV4's signing key derivation matches the AWS documentation's example")
    func derivation() {
        let key = SigV4SigningKey.derive(secret: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), date: "20150830",
                                         region: "us-east-1", service: "iam")
        #expect(Hex.encode(key) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test("a minted secret is sealed at rest, and services get the signing key it derives plus the key's principal")
    func mintAndSign() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let store = try store(env)
        let created = try await env.core.createApiKey(env.aliceActor, name: "s3", expiresAt: nil, userID: "")
        let pair = try await store.mint(forApiKey: created.key.id)
        #expect(S3AccessKeyPair.isWellFormed(pair.accessKeyID))
        #expect(pair.secret.reveal().utf8.count == 40)
        #expect(!"\(pair)".contains(pair.secret.reveal()))

        // At rest: neither the secret nor its bytes appear in the row, in any encoding.
        let row = try #require(try await env.pool.query(
            "SELECT encode(secret_sealed, 'hex') AS hex, encode(secret_sealed, 'escape') AS escaped, api_key_id::text AS key FROM identity.s3_credentials WHERE access_key_id = $1",
            binds: [pair.accessKeyID]).first)
        let hex = try row.decode(String.self, column: "hex")
        #expect(!hex.contains(Hex.encode(Array(pair.secret.reveal().utf8))))
        #expect(!(try row.decode(String.self, column: "escaped")).contains(pair.secret.reveal()))
        #expect(try row.decode(String.self, column: "key") == created.key.id)
        let dump = try await env.pool.query("SELECT t::text AS t FROM identity.s3_credentials t", binds: [])
        #expect(try dump.allSatisfy { !(try $0.decode(String.self, column: "t")).contains(pair.secret.reveal()) })

        let plain = try await env.core.createApiKey(env.aliceActor, name: "plain", expiresAt: nil, userID: "")
        #expect(try await store.accessKeyIDs(forApiKeys: [created.key.id, plain.key.id]) == [created.key.id: pair.accessKeyID])

        let grant = try await store.signingKey(caller: storage, accessKeyID: pair.accessKeyID, date: today(), region: "us-east-1", service: "s3")
        #expect(grant.signingKey == SigV4SigningKey.derive(secret: pair.secret, date: today(), region: "us-east-1", service: "s3"))
        #expect(grant.principal.userID == env.alice.id && grant.principal.tenantID == env.tenantA.id)
        #expect(grant.principal.keyID == created.key.id && grant.principal.role == "admin")
        #expect(!"\(grant)".contains(Hex.encode(grant.signingKey)))
    }

    @Test("a revoked API key's access key fails its next signing-key request")
    func revocation() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let store = try store(env)
        let created = try await env.core.createApiKey(env.aliceActor, name: "s3", expiresAt: nil, userID: "")
        let pair = try await store.mint(forApiKey: created.key.id)
        _ = try await store.signingKey(caller: storage, accessKeyID: pair.accessKeyID, date: today(), region: "us-east-1", service: "")
        _ = try await env.core.revokeApiKey(env.aliceActor, id: created.key.id)
        #expect(await code { _ = try await store.signingKey(caller: storage, accessKeyID: pair.accessKeyID, date: today(), region: "us-east-1", service: "") } == .unauthenticated)
    }

    @Test("refusals: not a service, unknown key, bad date or region, no KEK, a second pair for one key, a foreign KEK")
    func refusals() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let store = try store(env)
        let created = try await env.core.createApiKey(env.aliceActor, name: "s3", expiresAt: nil, userID: "")
        let pair = try await store.mint(forApiKey: created.key.id)
        let sign = { (caller: Principal, id: String, date: String, region: String) in
            _ = try await store.signingKey(caller: caller, accessKeyID: id, date: date, region: region, service: "s3")
        }
        #expect(await code { try await sign(env.aliceActor.principal, pair.accessKeyID, today(), "us-east-1") } == .permissionDenied)
        #expect(await code { try await sign(storage, "NKIAAAAAAAAAAAAAAAAA", today(), "us-east-1") } == .unauthenticated)
        #expect(await code { try await sign(storage, "not-an-access-key", today(), "us-east-1") } == .unauthenticated)
        #expect(await code { try await sign(storage, pair.accessKeyID, "2026-12-07", "us-east-1") } == .invalidArgument)
        #expect(await code { try await sign(storage, pair.accessKeyID, today(-30), "us-east-1") } == .invalidArgument)
        #expect(await code { try await sign(storage, pair.accessKeyID, today(), "US EAST") } == .invalidArgument)
        _ = try await store.signingKey(caller: storage, accessKeyID: pair.accessKeyID, date: today(-7), region: "eu-west-1", service: "s3")

        let disabled = S3CredentialStore(pool: env.pool, cipher: nil)
        #expect(await code { _ = try await disabled.mint(forApiKey: created.key.id) } == .failedPrecondition)
        #expect(await code { _ = try await store.mint(forApiKey: created.key.id) } == .alreadyExists)

        let otherKEK = S3CredentialStore(pool: env.pool, cipher: try S3SecretCipher(keyEncryptionKey: Secret("b3RoZXIta2V5LWVuY3J5cHRpb24ta2V5LTAxMjM0NTY")))
        let error = await code { _ = try await otherKEK.signingKey(caller: storage, accessKeyID: pair.accessKeyID, date: today(), region: "us-east-1", service: "s3") }
        #expect(error == .internal)
    }

    @Test("a failed mint discards the just-created API key")
    func discard() async throws {
        let env = try await TwoTenants.make()
        defer { Task { await env.close() } }
        let store = try store(env)
        let created = try await env.core.createApiKey(env.aliceActor, name: "s3", expiresAt: nil, userID: "")
        _ = try await store.mint(forApiKey: created.key.id)
        // A second mint for the same key fails (one pair per key): the key goes with it.
        #expect(await code { _ = try await store.mintOrDiscard(forApiKey: created.key.id) } == .alreadyExists)
        #expect(await code { _ = try await env.core.getApiKey(env.aliceActor, id: created.key.id) } == .notFound)
        #expect(try await env.pool.query("SELECT 1 FROM identity.s3_credentials", binds: []).isEmpty)
    }

    @Test("a malformed KEK is refused naming the setting, never the value")
    func badKEK() {
        do {
            _ = try S3SecretCipher(keyEncryptionKey: Secret("short-and-secret"))
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("NIMBUS_IDENTITY_KEK"))
            #expect(!"\(error)".contains("short-and-secret"))
        }
    }
}
