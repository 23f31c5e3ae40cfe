import Foundation
import NimbusPlatform
import NimbusProto

/// Domain records → generated messages.
extension IdentityV1.User {
    init(_ r: UserRecord) {
        self.init(id: r.id, email: r.email, name: r.name, isActive: r.isActive, isPlatformAdmin: r.isPlatformAdmin,
                  defaultTenantId: r.defaultTenantID ?? "", version: r.version, createTime: r.createdAt, updateTime: r.updatedAt)
    }
}

extension IdentityV1.Tenant {
    init(_ r: TenantRecord) {
        self.init(id: r.id, name: r.name, slug: r.slug, version: r.version, createTime: r.createdAt)
    }
}

extension IdentityV1.Member {
    init(_ r: MemberRecord) {
        self.init(tenantId: r.tenantID, userId: r.userID, email: r.email, role: r.role, createTime: r.createdAt)
    }
}

extension IdentityV1.Role {
    init(_ r: RoleRecord) {
        self.init(id: r.id, tenantId: r.tenantID ?? "", name: r.name, description: r.description, permissions: r.permissions, builtin: r.builtin)
    }
}

extension IdentityV1.ApiKey {
    init(_ r: ApiKeyRecord) {
        self.init(id: r.id, userId: r.userID, tenantId: r.tenantID, name: r.name, prefix: r.prefix, createTime: r.createdAt,
                  expireTime: r.expiresAt, revokeTime: r.revokedAt, lastUsedTime: r.lastUsedAt, previousValidUntil: r.previousValidUntil)
    }
}

extension IdentityV1.QuotaResources {
    init(_ a: QuotaAmounts) {
        self.init(instances: a.instances, vcpus: a.vcpus, memoryMb: a.memoryMB, storageGb: a.storageGB, buckets: a.buckets, databases: a.databases)
    }
    var amounts: QuotaAmounts {
        QuotaAmounts(instances: instances, vcpus: vcpus, memoryMB: memoryMb, storageGB: storageGb, buckets: buckets, databases: databases)
    }
}

extension IdentityV1.Quota {
    init(_ q: Quota) {
        self.init(tenantId: q.tenantID, limits: .init(q.limits), used: .init(q.used), version: q.version)
    }
}

extension IdentityV1.Principal {
    init(_ p: Principal) {
        self.init(userId: p.userID, tenantId: p.tenantID, role: p.role, permissions: p.permissions.map(\.rawValue).sorted(), keyId: p.keyID)
    }
}

extension IdentityV1.AuditEvent {
    init(_ e: AuditEntry) {
        let outcome: IdentityV1.AuditOutcome = switch e.outcome {
        case .success: .success
        case .failure: .failure
        case .denied: .denied
        }
        self.init(eventId: e.eventID, tenantId: e.tenantID, seq: e.seq, actorUserId: e.actorUserID, actorKeyId: e.actorKeyID,
                  action: e.action, resourceType: e.resourceType, resourceId: e.resourceID, outcome: outcome, requestId: e.requestID,
                  source: e.source, occurTime: Date(timeIntervalSince1970: Double(e.occurredAtMicros) / 1_000_000),
                  metadata: e.metadata.keys.sorted().map { IdentityV1.AuditMetadataEntry(key: $0, value: e.metadata[$0] ?? "") },
                  prevHash: Data(e.prevHash), hash_: Data(e.hash))
    }

    /// A delivered event as a draft; identity assigns seq and hashes.
    func draft(now: Date) throws -> AuditDraft {
        let value: AuditOutcomeValue
        switch outcome {
        case .success: value = .success
        case .failure: value = .failure
        case .denied: value = .denied
        default: throw IdentityError.invalid("outcome is required")
        }
        let time = occurTime ?? now
        var entries: [String: String] = [:]
        for entry in metadata { entries[entry.key] = entry.value }
        return AuditDraft(eventID: eventId, tenantID: tenantId, actorUserID: actorUserId, actorKeyID: actorKeyId, action: action,
                          resourceType: resourceType, resourceID: resourceId, outcome: value, requestID: requestId, source: source,
                          occurredAtMicros: Int64((time.timeIntervalSince1970 * 1_000_000).rounded(.down)), metadata: entries)
    }
}
