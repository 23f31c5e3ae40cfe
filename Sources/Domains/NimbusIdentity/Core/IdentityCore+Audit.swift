import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

extension IdentityCore {
    struct AuditFilter: Sendable {
        var action = ""
        var resourceType = ""
        var resourceID = ""
        var actorUserID = ""
        var start: Date?
        var end: Date?
    }

    /// The actor tenant's events, newest first.
    func listAuditEvents(_ actor: Actor, filter: AuditFilter, pageSize: Int32, pageToken: String) async throws -> (events: [AuditEntry], next: String) {
        try actor.require(.auditRead)
        let limit = Validate.pageSize(pageSize)
        let before = try PageToken.decode(pageToken, parts: 1).flatMap { Int64($0[0]) }
        func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }
        let rows = try await db.query("""
            SELECT \(AuditWriter.entryColumns) FROM identity.audit_events e
            WHERE e.tenant_id = $1::uuid AND ($2::bigint IS NULL OR e.seq < $2::bigint)
              AND ($3::text IS NULL OR e.action = $3) AND ($4::text IS NULL OR e.resource_type = $4)
              AND ($5::text IS NULL OR e.resource_id = $5) AND ($6::text IS NULL OR e.actor_user_id = $6)
              AND ($7::text IS NULL OR e.occurred_at >= \(SQLText.timestamp("$7")))
              AND ($8::text IS NULL OR e.occurred_at < \(SQLText.timestamp("$8")))
            ORDER BY e.seq DESC LIMIT $9::int
            """, binds: [actor.tenantID, before.map(String.init), nonEmpty(filter.action), nonEmpty(filter.resourceType),
                  nonEmpty(filter.resourceID), nonEmpty(filter.actorUserID), SQLText.micros(filter.start), SQLText.micros(filter.end),
                  String(limit + 1)])
        let events = try Array(rows.prefix(limit).map(AuditWriter.entry))
        return (events, rows.count > limit ? events.last.map { PageToken.encode([String($0.seq)]) } ?? "" : "")
    }

    /// Other services' outbox deliveries. Idempotent by event id; one transaction per batch.
    func appendAuditEvents(_ actor: Actor, _ drafts: [AuditDraft]) async throws -> (appended: Int, duplicates: Int) {
        try actor.require(.serviceInternal)
        guard drafts.count <= 1000 else { throw IdentityError.invalid("at most 1000 events per call") }
        var normalized: [AuditDraft] = []
        for var draft in drafts {
            guard (1...200).contains(draft.eventID.count) else { throw IdentityError.invalid("event_id must be 1–200 characters") }
            draft.tenantID = draft.tenantID.isEmpty ? platformAuditTenant : try Validate.uuid(draft.tenantID, "tenant_id")
            guard !draft.action.isEmpty, !draft.resourceType.isEmpty else { throw IdentityError.invalid("action and resource_type are required") }
            if draft.source.isEmpty { draft.source = actor.userID }
            normalized.append(draft)
        }
        let batch = normalized
        // A concurrent delivery of the same event can collide on the unique event id; the
        // retry then sees it as a duplicate.
        for attempt in 0..<3 {
            do {
                return try await db.withTransaction { tx in
                    var appended = 0
                    for draft in batch where try await AuditWriter.append(draft, in: tx) != nil { appended += 1 }
                    return (appended, batch.count - appended)
                }
            } catch let error as PostgresError where error.kind == .uniqueViolation && attempt < 2 {
                continue
            }
        }
        throw IdentityError(.aborted, "concurrent audit delivery, retry")
    }

    /// Recomputes the chain of `tenantID` (default: the actor's) page by page.
    func verifyAuditChain(_ actor: Actor, tenantID: String) async throws -> AuditChain.Verdict {
        let tenantID = tenantID.isEmpty ? actor.tenantID : try Validate.uuid(tenantID, "tenant_id")
        try actor.requireTenant(tenantID, "tenant")
        try actor.require(.auditRead)
        // One snapshot for head and entries: appends committed meanwhile are not half-seen.
        return try await db.withTransaction(isolation: .repeatableRead, readOnly: true) { tx in
            let headRow = try await tx.query("SELECT seq, encode(hash, 'hex') AS hash FROM identity.audit_chain_heads WHERE tenant_id = $1::uuid", tenantID).first
            var entries: [AuditEntry] = []
            var after: Int64 = 0
            while true {
                let rows = try await tx.query("""
                    SELECT \(AuditWriter.entryColumns) FROM identity.audit_events e WHERE e.tenant_id = $1::uuid AND e.seq > $2::bigint
                    ORDER BY e.seq LIMIT 5000
                    """, tenantID, String(after))
                entries += try rows.map(AuditWriter.entry)
                guard let last = entries.last, rows.count == 5000 else { break }
                after = last.seq
            }
            let head = try headRow.map { (seq: (try $0.decode(Int64.self, column: "seq")), hash: (try $0.hexBytes("hash")) ?? []) }
            return AuditChain.verify(entries, head: head)
        }
    }
}
