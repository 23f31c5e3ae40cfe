import Foundation
import NimbusPlatform
import NimbusProto
import NimbusRPCCore

/// `nimbus.identity.v1.S3Credentials`: signing keys for services (nimbus-storage's S3 face).
struct S3CredentialsHandler: IdentityV1.S3CredentialsService {
    let core: IdentityCore
    let store: S3CredentialStore
    var caller: CallerResolver { CallerResolver(core: core) }

    func getSigningKey(_ request: IdentityV1.GetSigningKeyRequest, context: ServerContext) async throws -> IdentityV1.GetSigningKeyResponse {
        let actor = try await caller.actor(context)
        let grant = try await store.signingKey(caller: actor.principal, accessKeyID: request.accessKeyId, date: request.date,
                                               region: request.region, service: request.service)
        let principal = grant.principal
        return .init(signingKey: Data(grant.signingKey),
                     principal: .init(userId: principal.userID, tenantId: principal.tenantID, role: principal.role,
                                      permissions: principal.permissions.map(\.rawValue).sorted(), keyId: principal.keyID))
    }
}
