import Foundation
import Logging
import NimbusBackground
import NimbusPlatform
import NimbusPostgres
import NimbusProto
import NimbusRPCCore

/// Delivers storage's audit events (the outbox's "audit" topic) to identity's
/// AppendAuditEvents, at least once (identity skips duplicates by event id), in batches.
public enum AuditRelay {
    public static func make(pool: PostgresPool, transport: any RPCClientTransport, signer: PrincipalSigner, logger: Logger,
                            interval: Duration = .seconds(1)) -> OutboxRelay {
        let client = IdentityV1.AuditClient(transport: transport)
        return OutboxRelay(pool: pool, schema: AuditEvent.schema, topic: AuditEvent.topic, interval: interval, logger: logger) { messages in
            var request = IdentityV1.AppendAuditEventsRequest()
            request.events = try messages.map(auditEvent)
            _ = try await client.appendAuditEvents(request, options: .acting(as: .service("nimbus-storage"), signer: signer, timeout: .seconds(10)))
        }
    }

    static func auditEvent(_ message: OutboxMessage) throws -> IdentityV1.AuditEvent {
        let stored = try message.decode(AuditEvent.self)
        var event = IdentityV1.AuditEvent()
        event.eventId = message.eventID
        event.tenantId = stored.tenantID
        event.actorUserId = stored.actorUserID
        event.actorKeyId = stored.actorKeyID
        event.action = stored.action
        event.resourceType = stored.resourceType
        event.resourceId = stored.resourceID
        event.outcome = stored.outcome == "SUCCESS" ? .success : stored.outcome == "DENIED" ? .denied : .failure
        event.source = "nimbus-storage"
        event.occurTime = message.createdAt
        event.metadata = stored.metadata.sorted { $0.key < $1.key }.map { entry in
            var out = IdentityV1.AuditMetadataEntry()
            out.key = entry.key
            out.value = entry.value
            return out
        }
        return event
    }
}

/// The tenant's `buckets` and `storage_gb` quota in identity, over its Quotas RPCs, as the
/// storage service principal.
public struct IdentityStorageQuota: StorageQuota {
    let client: IdentityV1.QuotasClient
    let signer: PrincipalSigner

    public init(transport: any RPCClientTransport, signer: PrincipalSigner) {
        client = IdentityV1.QuotasClient(transport: transport)
        self.signer = signer
    }

    private var options: CallOptions { .acting(as: .service("nimbus-storage"), signer: signer, timeout: .seconds(10)) }

    public func reserve(tenantID: String, key: String, buckets: Int, storageGB: Int) async throws {
        var request = IdentityV1.ReserveQuotaRequest()
        request.tenantId = tenantID
        request.idempotencyKey = key
        var deltas = IdentityV1.QuotaResources()
        deltas.buckets = Int64(buckets)
        deltas.storageGb = Int64(storageGB)
        request.deltas = deltas
        do {
            _ = try await client.reserveQuota(request, options: options)
        } catch {
            let rpc = RPCError(mapping: error)
            if rpc.code == .resourceExhausted { throw QuotaRefused(rpc.message) }
            throw error
        }
    }

    public func release(tenantID: String, key: String) async throws {
        var request = IdentityV1.ReleaseQuotaRequest()
        request.tenantId = tenantID
        request.idempotencyKey = key
        _ = try await client.releaseQuota(request, options: options)
    }
}
