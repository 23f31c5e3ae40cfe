import Foundation
import NimbusPostgres
import NimbusPlatform
import NimbusRPCCore

/// Appends to a tenant's hash chain inside the caller's transaction, so an audit entry
/// commits or rolls back with the change it describes.
enum AuditWriter {
    /// Appends `draft` and returns the stored entry, or nil when `eventID` is already present
    /// (delivery is at-least-once; the event id makes it idempotent).
    @discardableResult
    static func append(_ draft: AuditDraft, in tx: PostgresConnection) async throws -> AuditEntry? {
        if try await tx.query("SELECT 1 AS x FROM identity.audit_events WHERE event_id = $1", draft.eventID).first != nil { return nil }
        // The head row's lock serializes appends per tenant; the first append creates it.
        _ = try await tx.query(
            "INSERT INTO identity.audit_chain_heads (tenant_id, seq, hash) VALUES ($1::uuid, 0, decode($2, 'hex')) ON CONFLICT (tenant_id) DO NOTHING",
            draft.tenantID, SQLText.hex(AuditChain.genesis))
        guard let head = try await tx.query(
            "SELECT seq, encode(hash, 'hex') AS hash FROM identity.audit_chain_heads WHERE tenant_id = $1::uuid FOR UPDATE", draft.tenantID).first,
            let previous = try head.hexBytes("hash")
        else { throw IdentityError(.internal, "audit chain head missing") }

        var entry = AuditEntry(
            tenantID: draft.tenantID, seq: (try head.decode(Int64.self, column: "seq")) + 1, eventID: draft.eventID,
            actorUserID: draft.actorUserID, actorKeyID: draft.actorKeyID, action: draft.action,
            resourceType: draft.resourceType, resourceID: draft.resourceID, outcome: draft.outcome,
            requestID: draft.requestID, source: draft.source, occurredAtMicros: draft.occurredAtMicros,
            metadata: draft.metadata, prevHash: previous, hash: [])
        entry.hash = entry.computeHash()

        _ = try await tx.query("""
            INSERT INTO identity.audit_events (tenant_id, seq, event_id, actor_user_id, actor_key_id, action, resource_type,
                resource_id, outcome, request_id, source, occurred_at, metadata, prev_hash, hash)
            VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6, $7, $8, $9, $10, $11, \(SQLText.timestamp("$12")), $13::jsonb,
                decode($14, 'hex'), decode($15, 'hex'))
            """,
            binds: [entry.tenantID, String(entry.seq), entry.eventID, entry.actorUserID, entry.actorKeyID, entry.action,
             entry.resourceType, entry.resourceID, entry.outcome.rawValue, entry.requestID, entry.source,
             String(entry.occurredAtMicros), try metadataJSON(entry.metadata), SQLText.hex(entry.prevHash), SQLText.hex(entry.hash)])
        _ = try await tx.query(
            "UPDATE identity.audit_chain_heads SET seq = $2::bigint, hash = decode($3, 'hex') WHERE tenant_id = $1::uuid",
            entry.tenantID, String(entry.seq), SQLText.hex(entry.hash))
        return entry
    }

    static func metadataJSON(_ metadata: [String: String]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func metadata(fromJSON text: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        return object.compactMapValues { $0 as? String }
    }

    static let entryColumns = """
        e.tenant_id::text AS tenant_id, e.seq, e.event_id, e.actor_user_id, e.actor_key_id, e.action, e.resource_type, \
        e.resource_id, e.outcome, e.request_id, e.source, \(SQLText.micros(column: "e.occurred_at", as: "occurred_us")), \
        e.metadata::text AS metadata, encode(e.prev_hash, 'hex') AS prev_hash, encode(e.hash, 'hex') AS hash
        """

    static func entry(_ row: PostgresRow) throws -> AuditEntry {
        AuditEntry(
            tenantID: try row.decode(String.self, column: "tenant_id"), seq: try row.decode(Int64.self, column: "seq"), eventID: try row.decode(String.self, column: "event_id"),
            actorUserID: try row.decode(String.self, column: "actor_user_id"), actorKeyID: try row.decode(String.self, column: "actor_key_id"), action: try row.decode(String.self, column: "action"),
            resourceType: try row.decode(String.self, column: "resource_type"), resourceID: try row.decode(String.self, column: "resource_id"),
            outcome: AuditOutcomeValue(rawValue: try row.decode(String.self, column: "outcome")) ?? .failure, requestID: try row.decode(String.self, column: "request_id"),
            source: try row.decode(String.self, column: "source"), occurredAtMicros: try row.decode(Int64.self, column: "occurred_us"),
            metadata: metadata(fromJSON: try row.decode(String.self, column: "metadata")), prevHash: (try row.hexBytes("prev_hash")) ?? [],
            hash: (try row.hexBytes("hash")) ?? [])
    }
}
