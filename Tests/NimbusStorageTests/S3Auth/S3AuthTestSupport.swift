import Foundation
import NimbusPlatform
import NimbusStorage

/// Secrets by access key id, as identity would hold them; unknown ids answer InvalidAccessKeyId.
struct FixedSigningKeys: S3SigningKeyProvider {
    var secrets: [String: String]
    var tenantID = "tenant-a"

    func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant {
        guard let secret = secrets[accessKeyID] else { throw S3AuthError.invalidAccessKey() }
        let principal = Principal(userID: "user-1", tenantID: tenantID, role: "developer", permissions: [], keyID: "key-1")
        return S3SigningKeyGrant(signingKey: SigV4.signingKey(secret: secret, date: date, region: region),
                                 caller: S3Caller(principal: principal, accessKeyID: accessKeyID))
    }
}

/// An identity that cannot be reached.
struct UnreachableSigningKeys: S3SigningKeyProvider {
    struct Down: Error {}
    func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant { throw Down() }
}

let exampleAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
let exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/// 24 May 2013, midnight UTC: the AWS documentation's examples were signed then.
let awsExampleDate = Date(timeIntervalSince1970: 1_369_353_600)

func authenticator(at date: Date, secrets: [String: String] = [exampleAccessKeyID: exampleSecret],
                   region: String? = nil) -> S3RequestAuthenticator {
    S3RequestAuthenticator(keys: FixedSigningKeys(secrets: secrets), region: region, now: { date })
}

/// The error `body` throws, nil when it succeeds.
func s3Error(_ body: () async throws -> Void) async -> S3AuthError? {
    do {
        try await body()
        return nil
    } catch let error as S3AuthError {
        return error
    } catch {
        return S3AuthError(.init(rawValue: "unexpected \(error)"), status: 0, "")
    }
}

extension SigV4.Request {
    /// A copy with header `name` replaced (or added).
    func setting(_ name: String, _ value: String) -> SigV4.Request {
        var copy = self
        copy.headers.removeAll { $0.name.lowercased() == name.lowercased() }
        copy.headers.append((name, value))
        return copy
    }
}
