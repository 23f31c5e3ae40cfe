import Foundation
import NimbusPlatform
import NimbusProto
import NimbusRPCCore

struct ApiKeysHandler: IdentityV1.ApiKeysService {
    let core: IdentityCore
    /// Mints S3 credentials when a creation asks for them (`s3: true`).
    var s3: S3CredentialStore? = nil
    var caller: CallerResolver { CallerResolver(core: core) }

    func createApiKey(_ request: IdentityV1.CreateApiKeyRequest, context: ServerContext) async throws -> IdentityV1.CreateApiKeyResponse {
        if request.s3 {  // refuse before creating anything
            guard let s3 else { throw S3CredentialStore.notEnabled }
            _ = try s3.requireAvailable()
        }
        let created = try await core.createApiKey(try await caller.actor(context), name: request.name, expiresAt: request.expireTime,
                                                  userID: request.userId)
        guard request.s3, let s3 else { return .init(key: .init(created.key), secret: created.secret) }
        let pair = try await s3.mintOrDiscard(forApiKey: created.key.id)
        var key = IdentityV1.ApiKey(created.key)
        key.s3AccessKeyId = pair.accessKeyId
        return .init(key: key, secret: created.secret, s3: pair)
    }

    /// Keys as returned, with the S3 access key id of those that have one (one query per page).
    private func withS3(_ keys: [IdentityV1.ApiKey]) async throws -> [IdentityV1.ApiKey] {
        guard let s3, !keys.isEmpty else { return keys }
        let ids = try await s3.accessKeyIDs(forApiKeys: keys.map(\.id))
        return keys.map { key in
            var key = key
            key.s3AccessKeyId = ids[key.id] ?? ""
            return key
        }
    }

    func listApiKeys(_ request: IdentityV1.ListApiKeysRequest, context: ServerContext) async throws -> IdentityV1.ListApiKeysResponse {
        let page = try await core.listApiKeys(try await caller.actor(context), userID: request.userId, pageSize: request.pageSize,
                                              pageToken: request.pageToken)
        return .init(keys: try await withS3(page.keys.map(IdentityV1.ApiKey.init)), nextPageToken: page.next)
    }

    func getApiKey(_ request: IdentityV1.GetApiKeyRequest, context: ServerContext) async throws -> IdentityV1.ApiKey {
        try await withS3([.init(try await core.getApiKey(try await caller.actor(context), id: request.id))])[0]
    }

    func revokeApiKey(_ request: IdentityV1.RevokeApiKeyRequest, context: ServerContext) async throws -> IdentityV1.ApiKey {
        .init(try await core.revokeApiKey(try await caller.actor(context), id: request.id))
    }

    func rotateApiKey(_ request: IdentityV1.RotateApiKeyRequest, context: ServerContext) async throws -> IdentityV1.CreateApiKeyResponse {
        let rotated = try await core.rotateApiKey(try await caller.actor(context), id: request.id, previousValidUntil: request.previousValidUntil)
        return .init(key: .init(rotated.key), secret: rotated.secret)
    }
}

struct QuotasHandler: IdentityV1.QuotasService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func getQuota(_ request: IdentityV1.GetQuotaRequest, context: ServerContext) async throws -> IdentityV1.Quota {
        .init(try await core.getQuota(try await caller.actor(context), tenantID: request.tenantId))
    }

    func setQuota(_ request: IdentityV1.SetQuotaRequest, context: ServerContext) async throws -> IdentityV1.Quota {
        guard let limits = request.limits else { throw IdentityError.invalid("limits are required") }
        return .init(try await core.setQuota(try await caller.actor(context), tenantID: request.tenantId, limits: limits.amounts))
    }

    func reserveQuota(_ request: IdentityV1.ReserveQuotaRequest, context: ServerContext) async throws -> IdentityV1.ReserveQuotaResponse {
        let result = try await core.reserveQuota(try await caller.actor(context), tenantID: request.tenantId,
                                                 idempotencyKey: request.idempotencyKey, deltas: (request.deltas ?? .init()).amounts)
        return .init(quota: .init(result.quota), replayed: result.replayed)
    }

    func releaseQuota(_ request: IdentityV1.ReleaseQuotaRequest, context: ServerContext) async throws -> IdentityV1.ReleaseQuotaResponse {
        let result = try await core.releaseQuota(try await caller.actor(context), tenantID: request.tenantId, idempotencyKey: request.idempotencyKey)
        return .init(quota: .init(result.quota), released: result.released)
    }
}

struct AuditHandler: IdentityV1.AuditService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func listAuditEvents(_ request: IdentityV1.ListAuditEventsRequest, context: ServerContext) async throws -> IdentityV1.ListAuditEventsResponse {
        let filter = IdentityCore.AuditFilter(action: request.action, resourceType: request.resourceType, resourceID: request.resourceId,
                                              actorUserID: request.actorUserId, start: request.startTime, end: request.endTime)
        let page = try await core.listAuditEvents(try await caller.actor(context), filter: filter, pageSize: request.pageSize,
                                                  pageToken: request.pageToken)
        return .init(events: page.events.map(IdentityV1.AuditEvent.init), nextPageToken: page.next)
    }

    func appendAuditEvents(_ request: IdentityV1.AppendAuditEventsRequest, context: ServerContext) async throws -> IdentityV1.AppendAuditEventsResponse {
        let actor = try await caller.actor(context)
        let now = core.now()
        let result = try await core.appendAuditEvents(actor, try request.events.map { try $0.draft(now: now) })
        return .init(appended: Int32(result.appended), duplicates: Int32(result.duplicates))
    }

    func verifyAuditChain(_ request: IdentityV1.VerifyAuditChainRequest, context: ServerContext) async throws -> IdentityV1.VerifyAuditChainResponse {
        let verdict = try await core.verifyAuditChain(try await caller.actor(context), tenantID: request.tenantId)
        return .init(ok: verdict.ok, checked: verdict.checked, firstBadSeq: verdict.firstBadSeq, problem: verdict.problem)
    }
}

struct AuthHandler: IdentityV1.AuthService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func login(_ request: IdentityV1.LoginRequest, context: ServerContext) async throws -> IdentityV1.LoginResponse {
        let requestID = context.metadata["x-request-id"] ?? UUID().uuidString.lowercased()
        let result = try await core.login(email: request.email, password: request.password, tenantID: request.tenantId, requestID: requestID)
        return .init(secret: result.secret, key: .init(result.key), user: .init(result.user), tenant: .init(result.tenant))
    }

    /// For the gateway (a service principal): the key's principal, plus it signed for forwarding.
    /// The signature expires no later than the secret stops opening the key (expiry, rotation
    /// sunset): gateways cache the answer for the signature's life, and a sunset passing bumps
    /// no epoch that would make them drop it.
    func authenticate(_ request: IdentityV1.AuthenticateRequest, context: ServerContext) async throws -> IdentityV1.AuthenticateResponse {
        _ = try context.principal(core.signer, requiring: .serviceInternal)
        let (principal, validUntil) = try await core.authenticateBounded(apiKey: request.apiKey)
        return .init(principal: .init(principal), signedPrincipal: Data(core.signer.sign(principal, notAfter: validUntil)))
    }

    /// For gateways: the current epoch at once, then every change and a heartbeat (see
    /// `IdentityCore+Leases`). Runs until the watcher goes away.
    func watchAuthEpoch(_ request: IdentityV1.WatchAuthEpochRequest, responses: RPCMessageWriter<IdentityV1.AuthEpochEvent>,
                        context: ServerContext) async throws {
        _ = try context.principal(core.signer, requiring: .serviceInternal)
        guard !request.watcherId.isEmpty, request.watcherId.utf8.count <= 128 else {
            throw IdentityError.invalid("watcher_id must be 1–128 characters")
        }
        let lease = Int64(core.authLease.components.seconds * 1000 + core.authLease.components.attoseconds / 1_000_000_000_000_000)
        let epochs = try await mappingSQLErrors { try await core.epochBroadcaster.subscribe() }
        for await epoch in epochs {
            try await responses.write(.init(epoch: epoch, leaseMs: lease))
        }
    }

    func ackAuthEpoch(_ request: IdentityV1.AckAuthEpochRequest, context: ServerContext) async throws -> IdentityV1.AckAuthEpochResponse {
        _ = try context.principal(core.signer, requiring: .serviceInternal)
        let result = try await core.ackAuthEpoch(watcherID: request.watcherId, epoch: request.epoch)
        let lease = Int64(core.authLease.components.seconds * 1000 + core.authLease.components.attoseconds / 1_000_000_000_000_000)
        return .init(granted: result.granted, leaseMs: result.granted ? lease : 0, epoch: result.currentEpoch)
    }

    func whoAmI(_ request: IdentityV1.WhoAmIRequest, context: ServerContext) async throws -> IdentityV1.WhoAmIResponse {
        let actor = try await caller.actor(context)
        let user = try? await core.getUser(actor, id: actor.userID)
        let tenant = actor.tenantID.isEmpty ? nil : try? await core.getTenant(actor, id: actor.tenantID)
        return .init(principal: .init(actor.principal), user: user.map(IdentityV1.User.init), tenant: tenant.map(IdentityV1.Tenant.init))
    }
}
