import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    private static let quotaColumns = """
        q.tenant_id::text AS tenant_id, q.version, \
        q.max_instances, q.max_vcpus, q.max_memory_mb, q.max_storage_gb, q.max_buckets, q.max_databases, \
        q.used_instances, q.used_vcpus, q.used_memory_mb, q.used_storage_gb, q.used_buckets, q.used_databases
        """

    private static func quota(_ row: PostgresRow) throws -> Quota {
        func amounts(_ p: String) throws -> QuotaAmounts {
            QuotaAmounts(instances: (try row.decode(Int64.self, column: "\(p)_instances")), vcpus: (try row.decode(Int64.self, column: "\(p)_vcpus")), memoryMB: (try row.decode(Int64.self, column: "\(p)_memory_mb")),
                         storageGB: (try row.decode(Int64.self, column: "\(p)_storage_gb")), buckets: (try row.decode(Int64.self, column: "\(p)_buckets")), databases: (try row.decode(Int64.self, column: "\(p)_databases")))
        }
        return Quota(tenantID: try row.decode(String.self, column: "tenant_id"), limits: try amounts("max"), used: try amounts("used"), version: try row.decode(Int64.self, column: "version"))
    }

    /// Internal calls come from services (any tenant, named in the request); a user principal
    /// addressing another tenant sees NOT_FOUND before any permission question.
    private func internalCaller(_ actor: Actor, tenantID: String) throws {
        if !actor.principal.isService { try actor.requireTenant(tenantID, "tenant") }
        try actor.require(.serviceInternal)
    }

    func getQuota(_ actor: Actor, tenantID: String) async throws -> Quota {
        let tenantID = tenantID.isEmpty ? actor.tenantID : try Validate.uuid(tenantID, "tenant_id")
        if !actor.principal.isService {
            try actor.requireTenant(tenantID, "tenant")
            try actor.require(.quotaRead)
        }
        guard let row = try await db.query("SELECT \(Self.quotaColumns) FROM identity.tenant_quotas q WHERE q.tenant_id = $1::uuid", binds: [tenantID]).first
        else { throw IdentityError.notFound("tenant") }
        return try Self.quota(row)
    }

    func setQuota(_ actor: Actor, tenantID: String, limits: QuotaAmounts) async throws -> Quota {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        try actor.requireTenant(tenantID, "tenant")
        try actor.require(.platformAdmin)
        guard !limits.hasNegative else { throw IdentityError.invalid("limits cannot be negative") }
        return try await transaction { tx in
            let values = limits.named.map { String($0.value) }
            guard let row = try await tx.query("""
                UPDATE identity.tenant_quotas q SET max_instances = $2::bigint, max_vcpus = $3::bigint, max_memory_mb = $4::bigint,
                    max_storage_gb = $5::bigint, max_buckets = $6::bigint, max_databases = $7::bigint,
                    version = version + 1, updated_at = now()
                WHERE q.tenant_id = $1::uuid RETURNING \(Self.quotaColumns)
                """, binds: [tenantID] + values).first
            else { throw IdentityError.notFound("tenant") }
            try await AuditWriter.append(self.audit(actor, tenant: tenantID, action: "quota.set", resourceType: "quota", resourceID: tenantID,
                                                    metadata: Dictionary(uniqueKeysWithValues: limits.named.map { ("max_\($0.name)", String($0.value)) })), in: tx)
            return try Self.quota(row)
        }
    }

    /// `quota.reserve` / `quota.release` entries: the idempotency key and the amounts.
    private func quotaAudit(_ actor: Actor, tenant tenantID: String, action: String, key: String, amounts: [(name: String, value: Int64)],
                            outcome: AuditOutcomeValue = .success, extra: [String: String] = [:]) -> AuditDraft {
        var metadata = extra
        metadata["idempotency_key"] = key
        for amount in amounts { metadata[amount.name] = String(amount.value) }
        var draft = audit(actor, tenant: tenantID, action: action, resourceType: "quota", resourceID: tenantID, metadata: metadata)
        draft.outcome = outcome
        return draft
    }

    private enum ReserveOutcome: Sendable {
        case granted(Quota, replayed: Bool)
        case denied(String)
    }

    /// Atomic and idempotent: the reservation row (keyed by tenant + idempotency key), the
    /// conditional UPDATE and its audit entry commit together; a replay finds the row and
    /// reserves (and audits) nothing more. A refusal is audited too: its reservation row is
    /// removed in the same transaction, which then commits just the `denied` entry.
    func reserveQuota(_ actor: Actor, tenantID: String, idempotencyKey: String, deltas: QuotaAmounts) async throws -> (quota: Quota, replayed: Bool) {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        try internalCaller(actor, tenantID: tenantID)
        guard (1...200).contains(idempotencyKey.count) else { throw IdentityError.invalid("idempotency_key must be 1–200 characters") }
        guard !deltas.hasNegative else { throw IdentityError.invalid("reservations cannot be negative; use ReleaseQuota") }
        let values = deltas.named.map { String($0.value) }
        let named = deltas.named
        let outcome: ReserveOutcome = try await transaction { tx in
            let inserted = try await tx.query("""
                INSERT INTO identity.quota_reservations (tenant_id, idempotency_key, instances, vcpus, memory_mb, storage_gb, buckets, databases)
                SELECT $1::uuid, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint
                WHERE EXISTS (SELECT 1 FROM identity.tenant_quotas WHERE tenant_id = $1::uuid)
                ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING 1 AS x
                """, binds: [tenantID, idempotencyKey] + values)
            if inserted.isEmpty {
                guard let existing = try await tx.query("""
                    SELECT instances, vcpus, memory_mb, storage_gb, buckets, databases FROM identity.quota_reservations
                    WHERE tenant_id = $1::uuid AND idempotency_key = $2
                    """, tenantID, idempotencyKey).first
                else { throw IdentityError.notFound("tenant") }
                let previous = try deltas.named.map { try existing.decode(Int64.self, column: $0.name) }
                guard previous == deltas.named.map(\.value) else {
                    throw IdentityError(.alreadyExists, "idempotency_key was already used with different amounts")
                }
                guard let row = try await tx.query("SELECT \(Self.quotaColumns) FROM identity.tenant_quotas q WHERE q.tenant_id = $1::uuid", tenantID).first
                else { throw IdentityError.notFound("tenant") }
                return .granted(try Self.quota(row), replayed: true)
            }
            if let row = try await tx.query("""
                UPDATE identity.tenant_quotas q SET
                    used_instances = used_instances + $2::bigint, used_vcpus = used_vcpus + $3::bigint,
                    used_memory_mb = used_memory_mb + $4::bigint, used_storage_gb = used_storage_gb + $5::bigint,
                    used_buckets = used_buckets + $6::bigint, used_databases = used_databases + $7::bigint,
                    version = version + 1, updated_at = now()
                WHERE q.tenant_id = $1::uuid
                  AND used_instances + $2::bigint <= max_instances AND used_vcpus + $3::bigint <= max_vcpus
                  AND used_memory_mb + $4::bigint <= max_memory_mb AND used_storage_gb + $5::bigint <= max_storage_gb
                  AND used_buckets + $6::bigint <= max_buckets AND used_databases + $7::bigint <= max_databases
                RETURNING \(Self.quotaColumns)
                """, binds: [tenantID] + values).first {
                try await AuditWriter.append(self.quotaAudit(actor, tenant: tenantID, action: "quota.reserve", key: idempotencyKey, amounts: named), in: tx)
                return .granted(try Self.quota(row), replayed: false)
            }
            // Over a limit: say which, take the reservation row back and audit the refusal.
            guard let row = try await tx.query("SELECT \(Self.quotaColumns) FROM identity.tenant_quotas q WHERE q.tenant_id = $1::uuid", tenantID).first
            else { throw IdentityError.notFound("tenant") }
            let over = try Self.quota(row).overages(adding: deltas).joined(separator: "; ")
            _ = try await tx.query("DELETE FROM identity.quota_reservations WHERE tenant_id = $1::uuid AND idempotency_key = $2", tenantID, idempotencyKey)
            try await AuditWriter.append(self.quotaAudit(actor, tenant: tenantID, action: "quota.reserve", key: idempotencyKey, amounts: named,
                                                         outcome: .denied, extra: ["over": over]), in: tx)
            return .denied(over)
        }
        switch outcome {
        case let .granted(quota, replayed): return (quota, replayed)
        case let .denied(over): throw IdentityError(.resourceExhausted, "quota exceeded: \(over)")
        }
    }

    /// Gives a reservation back once, audited in the same transaction; a second release
    /// reports `released == false` and changes (and audits) nothing.
    func releaseQuota(_ actor: Actor, tenantID: String, idempotencyKey: String) async throws -> (quota: Quota, released: Bool) {
        let tenantID = try Validate.uuid(tenantID, "tenant_id")
        try internalCaller(actor, tenantID: tenantID)
        return try await transaction { tx in
            let released = try await tx.query("""
                UPDATE identity.quota_reservations SET state = 'released', released_at = now()
                WHERE tenant_id = $1::uuid AND idempotency_key = $2 AND state = 'reserved'
                RETURNING instances, vcpus, memory_mb, storage_gb, buckets, databases
                """, tenantID, idempotencyKey).first
            if let released {
                let columns = ["instances", "vcpus", "memory_mb", "storage_gb", "buckets", "databases"]
                let values = try columns.map { String(try released.decode(Int64.self, column: $0)) }
                guard let row = try await tx.query("""
                    UPDATE identity.tenant_quotas q SET
                        used_instances = used_instances - $2::bigint, used_vcpus = used_vcpus - $3::bigint,
                        used_memory_mb = used_memory_mb - $4::bigint, used_storage_gb = used_storage_gb - $5::bigint,
                        used_buckets = used_buckets - $6::bigint, used_databases = used_databases - $7::bigint,
                        version = version + 1, updated_at = now()
                    WHERE q.tenant_id = $1::uuid RETURNING \(Self.quotaColumns)
                    """, binds: [tenantID] + values).first
                else { throw IdentityError.notFound("tenant") }
                let amounts = try columns.map { (name: $0, value: try released.decode(Int64.self, column: $0)) }
                try await AuditWriter.append(self.quotaAudit(actor, tenant: tenantID, action: "quota.release", key: idempotencyKey, amounts: amounts), in: tx)
                return try (Self.quota(row), true)
            }
            guard try await tx.query("SELECT 1 AS x FROM identity.quota_reservations WHERE tenant_id = $1::uuid AND idempotency_key = $2",
                                   tenantID, idempotencyKey).first != nil
            else { throw IdentityError.notFound("reservation") }
            guard let row = try await tx.query("SELECT \(Self.quotaColumns) FROM identity.tenant_quotas q WHERE q.tenant_id = $1::uuid", tenantID).first
            else { throw IdentityError.notFound("tenant") }
            return try (Self.quota(row), false)
        }
    }
}
