import Foundation
import Logging
import NimbusPostgres
import ServiceLifecycle
import Synchronization

/// Delivers one topic of a service's outbox: claims a batch of due messages (oldest first,
/// `FOR UPDATE SKIP LOCKED`, claimed for `claimTTL` so replicas share the work and a crashed
/// relay's batch is retaken), hands it to `deliver`, and marks it delivered — or, when
/// `deliver` throws, counts the attempt and schedules the next one after `backoff`. Delivery
/// is at least once: the receiver skips event ids it has seen. No database transaction stays
/// open while `deliver` runs.
public struct OutboxRelay: Service {
    public typealias Deliver = @Sendable ([OutboxMessage]) async throws -> Void

    let pool: PostgresPool
    let schema: BackgroundSchema
    let topic: String
    let deliver: Deliver
    let batchSize: Int
    let claimTTL: Duration
    let backoff: RetryBackoff
    let interval: Duration
    /// Delivered messages are deleted after this long.
    let retention: Duration
    let wake: WorkSignal?
    let logger: Logger

    public init(pool: PostgresPool, schema: BackgroundSchema, topic: String, batchSize: Int = 100, claimTTL: Duration = .seconds(30),
                backoff: RetryBackoff = RetryBackoff(), interval: Duration = .seconds(1), retention: Duration = .seconds(7 * 86_400),
                wake: WorkSignal? = nil, logger: Logger, deliver: @escaping Deliver) {
        self.pool = pool
        self.schema = schema
        self.topic = topic
        self.deliver = deliver
        self.batchSize = batchSize
        self.claimTTL = claimTTL
        self.backoff = backoff
        self.interval = interval
        self.retention = retention
        self.wake = wake
        self.logger = logger
    }

    /// One batch; returns how many messages were delivered (0 also when there were none due).
    /// Throws what `deliver` threw, after recording the failed attempt.
    @discardableResult
    public func deliverBatch() async throws -> Int {
        let table = schema.outboxTable
        let messages = try await pool.query("""
            UPDATE \(table) SET claimed_until = now() + make_interval(secs => $3::double precision)
            WHERE id IN (
                SELECT id FROM \(table)
                WHERE topic = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
                  AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY id LIMIT $2::integer FOR UPDATE SKIP LOCKED)
            RETURNING id, event_id::text AS event_id, topic, payload::text AS payload, created_at, attempts
            """, topic, batchSize, claimTTL.seconds).map { row in
            OutboxMessage(
                id: try row.decode(Int64.self, column: "id"), eventID: try row.decode(String.self, column: "event_id"),
                topic: try row.decode(String.self, column: "topic"), payload: PostgresJSONB(text: try row.decode(String.self, column: "payload")),
                createdAt: try row.decode(Date.self, column: "created_at"), attempts: try row.decode(Int.self, column: "attempts"))
        }.sorted { $0.id < $1.id }
        guard !messages.isEmpty else { return 0 }
        let ids = messages.map(\.id)
        do {
            try await deliver(messages)
        } catch {
            // Per message: its own attempt count sets its own wait.
            for message in messages {
                _ = try? await pool.query("""
                    UPDATE \(table) SET attempts = attempts + 1, last_error = $2, claimed_until = NULL,
                        next_attempt_at = now() + make_interval(secs => $3::double precision)
                    WHERE id = $1
                    """, message.id, String(String(describing: error).prefix(500)), backoff.delay(afterAttempts: message.attempts + 1).seconds)
            }
            throw error
        }
        _ = try await pool.query(
            "UPDATE \(table) SET delivered_at = now(), claimed_until = NULL WHERE id = ANY($1::bigint[])", binds: [ids])
        return messages.count
    }

    /// Deletes delivered messages older than `retention`.
    @discardableResult
    public func prune() async throws -> Int {
        try await pool.execute(
            "DELETE FROM \(schema.outboxTable) WHERE topic = $1 AND delivered_at < now() - make_interval(secs => $2::double precision)",
            topic, retention.seconds)
    }

    public func run() async throws {
        let lastPrune = Mutex(ContinuousClock.now)
        let worker = PeriodicWorker(name: "outbox relay (\(schema.outboxTable), \(topic))", interval: interval, wake: wake,
                                    failureLevel: .debug, logger: logger) {
            let delivered = try await deliverBatch()
            let pruneDue = lastPrune.withLock { last in
                guard ContinuousClock.now - last > .seconds(600) else { return false }
                last = .now
                return true
            }
            if pruneDue { try await prune() }
            return delivered > 0 ? .more : .idle
        }
        try await worker.run()
    }
}
