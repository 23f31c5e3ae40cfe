import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres
import NimbusProto
import NimbusRPCCore
import ServiceLifecycle

/// Delivers storage.outbox to identity's AppendAuditEvents (at least once; identity skips
/// duplicates by event id), oldest first, in batches. The same shape as compute's relay.
public struct StorageOutboxRelay: Service {
    let db: PostgresPool
    let client: IdentityV1.AuditClient
    let signer: PrincipalSigner
    let logger: Logger
    let interval: Duration

    public init(db: PostgresPool, transport: any RPCClientTransport, signer: PrincipalSigner, logger: Logger, interval: Duration = .seconds(1)) {
        self.db = db
        client = IdentityV1.AuditClient(transport: transport)
        self.signer = signer
        self.logger = logger
        self.interval = interval
    }

    @discardableResult
    public func deliverBatch(limit: Int = 100) async throws -> Int {
        try await db.withTransaction { c in
            let rows = try await c.query("""
                SELECT id, event_id::text AS event_id, tenant_id::text AS tenant_id, actor_user_id, actor_key_id, action,
                    resource_type, resource_id, outcome, request_id, metadata::text AS metadata, occurred_at
                FROM storage.outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED
                """, limit)
            guard !rows.isEmpty else { return 0 }
            var request = IdentityV1.AppendAuditEventsRequest()
            var ids: [Int64] = []
            for row in rows {
                ids.append(try row.decode(Int64.self, column: "id"))
                var event = IdentityV1.AuditEvent()
                event.eventId = try row.decode(String.self, column: "event_id")
                event.tenantId = try row.decode(String.self, column: "tenant_id")
                event.actorUserId = try row.decode(String.self, column: "actor_user_id")
                event.actorKeyId = try row.decode(String.self, column: "actor_key_id")
                event.action = try row.decode(String.self, column: "action")
                event.resourceType = try row.decode(String.self, column: "resource_type")
                event.resourceId = try row.decode(String.self, column: "resource_id")
                let outcome = try row.decode(String.self, column: "outcome")
                event.outcome = outcome == "SUCCESS" ? .success : outcome == "DENIED" ? .denied : .failure
                event.requestId = try row.decode(String.self, column: "request_id")
                event.source = "nimbus-storage"
                event.occurTime = try row.decode(Date.self, column: "occurred_at")
                let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(try row.decode(String.self, column: "metadata").utf8))) ?? [:]
                event.metadata = metadata.sorted { $0.key < $1.key }.map { entry in
                    var out = IdentityV1.AuditMetadataEntry()
                    out.key = entry.key
                    out.value = entry.value
                    return out
                }
                request.events.append(event)
            }
            do {
                _ = try await client.appendAuditEvents(request, options: .acting(as: .service("nimbus-storage"), signer: signer, timeout: .seconds(10)))
            } catch {
                _ = try await c.query("UPDATE storage.outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])",
                                      binds: [ids, String(describing: RPCError(mapping: error).code)])
                throw error
            }
            _ = try await c.query("UPDATE storage.outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])", binds: [ids])
            return rows.count
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    if try await deliverBatch() > 0 { continue }
                } catch {
                    logger.debug("audit delivery failed; retried", metadata: ["error": "\(error)"])
                }
                await cancelWhenGracefulShutdown { try? await Task.sleep(for: interval) }
            }
        } onGracefulShutdown: {}
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
