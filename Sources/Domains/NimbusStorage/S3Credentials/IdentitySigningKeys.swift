import Foundation
import NimbusPlatform
import NimbusProto
import NimbusRPCCore

/// Signing keys from identity (`S3Credentials.GetSigningKey`), asked as the storage service.
/// An unknown or revoked access key is `InvalidAccessKeyId`; identity being unreachable is
/// reported by the authenticator as ServiceUnavailable.
public struct IdentitySigningKeys: S3SigningKeyProvider {
    let client: IdentityV1.S3CredentialsClient
    let signer: PrincipalSigner
    let service: String

    public init(transport: any RPCClientTransport, signer: PrincipalSigner, service: String = "nimbus-storage") {
        client = IdentityV1.S3CredentialsClient(transport: transport)
        self.signer = signer
        self.service = service
    }

    public func signingKey(accessKeyID: String, date: String, region: String) async throws -> S3SigningKeyGrant {
        var request = IdentityV1.GetSigningKeyRequest()
        request.accessKeyId = accessKeyID
        request.date = date
        request.region = region
        request.service = SigV4.service
        let response: IdentityV1.GetSigningKeyResponse
        do {
            response = try await client.getSigningKey(request, options: .acting(as: .service(service), signer: signer, timeout: .seconds(5)))
        } catch let error as RPCError where error.code == .unauthenticated || error.code == .invalidArgument {
            // Unknown/revoked keys, and scopes identity refuses (a date far off): no such key for this request.
            throw S3AuthError.invalidAccessKey()
        }
        guard response.signingKey.count == 32, let wire = response.principal else {
            throw S3AuthError(.serviceUnavailable, status: 503, "Please reduce your request rate.")
        }
        let principal = Principal(userID: wire.userId, tenantID: wire.tenantId, role: wire.role,
                                  permissions: Set(wire.permissions.map { Permission($0) }), keyID: wire.keyId)
        return S3SigningKeyGrant(signingKey: Array(response.signingKey), caller: S3Caller(principal: principal, accessKeyID: accessKeyID))
    }
}
