import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

/// Who a request comes from once its API key checked out, and the signed principal that
/// travels with the forwarded call (`x-nimbus-principal-bin`).
public struct AuthenticatedCaller: Sendable, Equatable {
    public var userID: String
    public var tenantID: String
    public var keyID: String
    public var signedPrincipal: [UInt8]

    public init(userID: String, tenantID: String, keyID: String, signedPrincipal: [UInt8]) {
        self.userID = userID
        self.tenantID = tenantID
        self.keyID = keyID
        self.signedPrincipal = signedPrincipal
    }
}

/// Turns an API key into a caller, or throws UNAUTHENTICATED (UNAVAILABLE if identity is down).
public protocol CallerAuthenticator: Sendable {
    func authenticate(apiKey: String, identity: RequestIdentity) async throws -> AuthenticatedCaller
}

/// Asks identity's `Auth/Authenticate` on every request, so a revoked key fails on the next
/// request (identity keeps its own epoch-checked cache). The gateway calls as a service
/// principal it signs itself (`servicePrincipal`).
public struct IdentityAuthenticator: CallerAuthenticator {
    public static let method = MethodDescriptor(service: "nimbus.identity.v1.Auth", method: "Authenticate", kind: .unary)
    public static let principalMetadataKey = "x-nimbus-principal-bin"

    let transport: any RPCClientTransport
    let servicePrincipal: @Sendable () -> [UInt8]
    let timeout: Duration

    public init(transport: any RPCClientTransport, timeout: Duration = .seconds(5),
                servicePrincipal: @escaping @Sendable () -> [UInt8]) {
        self.transport = transport
        self.timeout = timeout
        self.servicePrincipal = servicePrincipal
    }

    public func authenticate(apiKey: String, identity: RequestIdentity) async throws -> AuthenticatedCaller {
        // AuthenticateRequest { string api_key = 1; }
        var request = ProtoWriter()
        request.writeTag(1, .lengthDelimited)
        request.writeLengthDelimited(Array(apiKey.utf8))
        var metadata = Metadata()
        metadata.add(Self.principalMetadataKey, binary: servicePrincipal())
        metadata.add("x-request-id", identity.requestID)
        metadata.add("traceparent", identity.traceparent)
        let response: RPCResponse<[UInt8]>
        do {
            let options = CallOptions(metadata: metadata, timeout: timeout)
            do {
                response = try await transport.unary(Self.method, request: request.bytes, options: options)
            } catch let error as RPCError where error.code == .unavailable {
                // Authenticate only reads: one more try reaches another replica when the one
                // picked died under the call (its connection was lost).
                response = try await transport.unary(Self.method, request: request.bytes, options: options)
            }
        } catch let error as RPCError {
            switch error.code {
            case .unauthenticated, .permissionDenied, .notFound, .invalidArgument:
                throw RPCError(.unauthenticated, "invalid API key")
            case .resourceExhausted:
                throw error
            default:
                throw RPCError(.unavailable, "authentication is unavailable, retry shortly", cause: error)
            }
        }
        return try Self.decode(response.message)
    }

    /// AuthenticateResponse { Principal principal = 1; bytes signed_principal = 2; } with
    /// Principal { user_id = 1; tenant_id = 2; role = 3; permissions = 4; key_id = 5; }.
    static func decode(_ bytes: [UInt8]) throws -> AuthenticatedCaller {
        var caller = AuthenticatedCaller(userID: "", tenantID: "", keyID: "", signedPrincipal: [])
        do {
            var reader = ProtoReader(bytes)
            while let (field, wireType) = try reader.readTag() {
                switch (field, wireType) {
                case (1, .lengthDelimited):
                    var principal = try reader.readSubmessage()
                    while let (f, t) = try principal.readTag() {
                        switch (f, t) {
                        case (1, .lengthDelimited): caller.userID = try principal.readString()
                        case (2, .lengthDelimited): caller.tenantID = try principal.readString()
                        case (5, .lengthDelimited): caller.keyID = try principal.readString()
                        default: try principal.skip(t, field: f)
                        }
                    }
                case (2, .lengthDelimited): caller.signedPrincipal = try reader.readBytes()
                default: try reader.skip(wireType, field: field)
                }
            }
        } catch {
            throw RPCError(.unavailable, "identity answered Authenticate with a malformed message", cause: error)
        }
        guard !caller.signedPrincipal.isEmpty else {
            throw RPCError(.unavailable, "identity answered Authenticate without a signed principal")
        }
        return caller
    }
}
