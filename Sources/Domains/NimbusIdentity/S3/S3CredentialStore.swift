import Foundation
import NimbusPlatform
import NimbusProto
import NimbusPostgres
import NimbusRPCCore

/// S3 credentials over identity.s3_credentials (typed rows on the pool): minting a pair for an
/// API key, and answering `GetSigningKey` for services. The secret leaves this type only once,
/// in the answer to the creation; afterwards only derived signing keys do.
struct S3CredentialStore: Sendable {
    let pool: PostgresPool
    /// Nil without `NIMBUS_IDENTITY_KEK`: S3 credentials are then unavailable.
    let cipher: S3SecretCipher?
    let now: @Sendable () -> Date

    init(pool: PostgresPool, cipher: S3SecretCipher?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.cipher = cipher
        self.now = now
    }

    static let notEnabled = IdentityError.precondition(
        "S3 credentials are not enabled on this installation (\(S3SecretCipher.setting) is not set)")

    /// Refuses before anything is created when S3 credentials cannot be minted here.
    func requireAvailable() throws -> S3SecretCipher {
        guard let cipher else { throw Self.notEnabled }
        return cipher
    }

    /// A new access key for `apiKeyID`, its secret sealed at rest; the pair is returned once.
    func mint(forApiKey apiKeyID: String) async throws -> S3AccessKeyPair {
        let cipher = try requireAvailable()
        for _ in 0..<3 {
            let pair = try S3AccessKeyPair.generate()
            let sealed = try cipher.seal(pair.secret, accessKeyID: pair.accessKeyID)
            do {
                _ = try await pool.query("""
                    INSERT INTO identity.s3_credentials (access_key_id, api_key_id, secret_sealed) VALUES ($1, $2::uuid, $3)
                    """, binds: [pair.accessKeyID, apiKeyID, Data(sealed)])
                return pair
            } catch let error as PostgresError where error.sqlState == "23505" && error.constraint == "s3_credentials_pkey" {
                continue  // 80 random bits collided: draw again
            } catch let error as PostgresError where error.sqlState == "23505" {
                throw IdentityError(.alreadyExists, "the API key already has S3 credentials")
            }
        }
        throw IdentityError(.internal, "could not draw a unique S3 access key id")
    }

    /// Removes an API key whose S3 credentials could not be minted, so a failed creation
    /// leaves nothing behind (the key's secret was never shown).
    func discardApiKey(_ apiKeyID: String) async {
        _ = try? await pool.query("DELETE FROM identity.api_keys WHERE id = $1::uuid", binds: [apiKeyID])
    }

    /// The access key ids of those API keys that have one, by API key id.
    func accessKeyIDs(forApiKeys apiKeyIDs: [String]) async throws -> [String: String] {
        let rows = try await pool.query("""
            SELECT api_key_id::text AS key, access_key_id FROM identity.s3_credentials WHERE api_key_id = ANY($1::uuid[])
            """, binds: [apiKeyIDs])
        var out: [String: String] = [:]
        for row in rows { out[try row.decode(String.self, column: "key")] = try row.decode(String.self, column: "access_key_id") }
        return out
    }

    struct Grant: Sendable, CustomStringConvertible {
        var signingKey: [UInt8]
        var principal: Principal
        var description: String { "signing key for \(principal)" }
    }

    /// kSigning for an access key whose API key is live (not revoked, not expired, its user
    /// active and still a member), with the principal it acts for. Service callers only. Every
    /// refusal about the key itself is the same UNAUTHENTICATED answer.
    func signingKey(caller: Principal, accessKeyID: String, date: String, region: String, service: String) async throws -> Grant {
        guard caller.isService else {
            throw IdentityError(.permissionDenied, "GetSigningKey is for services")
        }
        let service = service.isEmpty ? "s3" : service
        guard service == "s3" else { throw IdentityError.invalid("service must be s3") }
        guard !region.isEmpty, region.utf8.count <= 64,
              region.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
            throw IdentityError.invalid("region must be 1–64 lowercase letters, digits, '-' or '_'")
        }
        try validateDate(date)
        let cipher = try requireAvailable()
        let refused = IdentityError(.unauthenticated, "unknown or revoked S3 access key")
        guard S3AccessKeyPair.isWellFormed(accessKeyID) else { throw refused }
        guard let row = try await pool.query("""
            SELECT c.secret_sealed, k.id::text AS key_id, k.user_id::text AS user_id, k.tenant_id::text AS tenant_id,
                   r.name AS role, u.is_platform_admin,
                   (SELECT coalesce(string_agg(p.permission, ',' ORDER BY p.permission), '') FROM identity.role_permissions p
                    WHERE p.role_id = m.role_id) AS permissions
            FROM identity.s3_credentials c
            JOIN identity.api_keys k ON k.id = c.api_key_id
            JOIN identity.users u ON u.id = k.user_id
            JOIN identity.tenant_members m ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id
            JOIN identity.roles r ON r.id = m.role_id
            WHERE c.access_key_id = $1 AND k.revoked_at IS NULL AND u.is_active
              AND (k.expires_at IS NULL OR k.expires_at > now())
            """, binds: [accessKeyID]).first
        else { throw refused }
        var permissions = Set(try row.decode(String.self, column: "permissions").split(separator: ",").map { Permission(String($0)) })
        if try row.decode(Bool.self, column: "is_platform_admin") { permissions.insert(.platformAdmin) }
        let principal = Principal(userID: try row.decode(String.self, column: "user_id"),
                                  tenantID: try row.decode(String.self, column: "tenant_id"),
                                  role: try row.decode(String.self, column: "role"), permissions: permissions,
                                  keyID: try row.decode(String.self, column: "key_id"))
        let secret = try cipher.open(Array(try row.decode(Data.self, column: "secret_sealed")), accessKeyID: accessKeyID)
        return Grant(signingKey: SigV4SigningKey.derive(secret: secret, date: date, region: region, service: service), principal: principal)
    }

    /// yyyyMMdd within a day of today (UTC): signing keys for other days are of no use to a
    /// verifier that enforces the 15-minute skew or 7-day presign limits… except presigned URLs,
    /// which are verified under the day they were signed: up to 7 days back.
    private func validateDate(_ date: String) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        guard date.utf8.count == 8, date.allSatisfy(\.isASCII), date.allSatisfy(\.isNumber), let day = formatter.date(from: date) else {
            throw IdentityError.invalid("date must be yyyyMMdd")
        }
        let offset = day.timeIntervalSince(now())
        guard offset <= 86_400, offset >= -8 * 86_400 else {
            throw IdentityError.invalid("date must lie between 8 days ago and tomorrow")
        }
    }
}

extension S3CredentialStore {
    /// Mints for a just-created API key; if that fails, the key goes too (its secret was never
    /// shown), so the caller sees one error and nothing changed.
    func mintOrDiscard(forApiKey apiKeyID: String) async throws -> IdentityV1.S3AccessKey {
        do {
            let pair = try await mint(forApiKey: apiKeyID)
            return IdentityV1.S3AccessKey(accessKeyId: pair.accessKeyID, secretAccessKey: pair.secret.reveal())
        } catch {
            await discardApiKey(apiKeyID)
            throw error
        }
    }
}
