import Foundation
import NimbusPlatform
import NimbusRPCCore

/// Who is calling identity. Other services and the gateway forward a signed principal;
/// because identity owns the keys, it also accepts an API key directly
/// (`authorization: Bearer nmb_…` or `x-api-key`), so a plain gRPC client can use it.
struct CallerResolver: Sendable {
    let core: IdentityCore

    func actor(_ context: ServerContext) async throws -> Actor {
        let requestID = context.metadata["x-request-id"] ?? UUID().uuidString.lowercased()
        if context.metadata.binary(PrincipalSigner.metadataKey) != nil {
            return Actor(principal: try context.principal(core.signer), requestID: requestID)
        }
        if let key = Self.apiKey(context.metadata) {
            return Actor(principal: try await core.authenticate(apiKey: key), requestID: requestID)
        }
        throw PrincipalError(.missing)
    }

    static func apiKey(_ metadata: Metadata) -> String? {
        if let header = metadata["authorization"] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]).trimmingCharacters(in: .whitespaces) }
        }
        return metadata["x-api-key"]
    }
}
