import NimbusRPCCore

extension ServerContext {
    /// The verified principal of this call: UNAUTHENTICATED when it is missing, unsigned,
    /// tampered with or expired.
    ///
    ///     let principal = try context.principal(signer)
    ///     try principal.require(.instanceLaunch)
    public func principal(_ verifier: PrincipalSigner) throws -> Principal {
        guard let token = metadata.binary(PrincipalSigner.metadataKey) else { throw PrincipalError(.missing) }
        return try verifier.verify(token)
    }

    /// The principal and a check of one permission in one call.
    public func principal(_ verifier: PrincipalSigner, requiring permission: Permission) throws -> Principal {
        let principal = try principal(verifier)
        try principal.require(permission)
        return principal
    }
}

extension Metadata {
    /// Attaches `principal`, freshly signed, replacing any principal already present.
    public mutating func setPrincipal(_ principal: Principal, signer: PrincipalSigner) {
        remove(PrincipalSigner.metadataKey)
        add(PrincipalSigner.metadataKey, binary: signer.sign(principal))
    }
}

extension CallOptions {
    /// Options for an internal call made on behalf of `principal`.
    public static func acting(as principal: Principal, signer: PrincipalSigner, timeout: Duration? = nil) -> CallOptions {
        var metadata = Metadata()
        metadata.setPrincipal(principal, signer: signer)
        return CallOptions(metadata: metadata, timeout: timeout)
    }
}
