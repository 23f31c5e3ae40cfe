import CoreMetrics
import Synchronization
import Logging

/// How a transaction isolates itself from concurrent ones.
public enum PostgresIsolation: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// Whether a transaction that fails with 40001 (serialization) or 40P01 (deadlock) runs again.
public struct PostgresRetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    /// One attempt: the error reaches the caller.
    public static let none = PostgresRetryPolicy(maxAttempts: 1, initialBackoff: .zero, maxBackoff: .zero)
    /// Up to five attempts with jittered exponential backoff from 5 ms.
    public static let retryable = PostgresRetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(200))

    public init(maxAttempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

extension PostgresPool {
    /// Runs `body` in one transaction: COMMIT when it returns, ROLLBACK when it throws. With a
    /// retrying policy the whole body runs again after a serialization failure or deadlock, so
    /// it must have no effects outside the database.
    public func withTransaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted,
        readOnly: Bool = false,
        retry: PostgresRetryPolicy = .none,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        var attempt = 1
        var backoff = retry.initialBackoff
        while true {
            do {
                return try await withConnection { connection in
                    try await connection.transaction(isolation: isolation, readOnly: readOnly, body)
                }
            } catch let error as PostgresError where error.isRetryable && attempt < retry.maxAttempts {
                logger.debug("retrying transaction", metadata: [
                    "db.pool": "\(name)", "db.sqlstate": "\(error.sqlState ?? "")", "db.attempt": "\(attempt)",
                ])
                metrics.transactionRetries.increment()
                attempt += 1
                if backoff > .zero {
                    let jitter = Double.random(in: 0.5...1.0)
                    try await Task.sleep(for: backoff * jitter)
                    backoff = min(backoff * 2, retry.maxBackoff)
                }
            }
        }
    }
}

extension PostgresConnection {
    /// One transaction on this connection (no retry: the caller holds the connection).
    public func transaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted, readOnly: Bool = false,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        // Isolation keywords come from the enum, never from caller text.
        try await executeScript("BEGIN ISOLATION LEVEL \(isolation.rawValue)\(readOnly ? " READ ONLY" : "")")
        let value: T
        do {
            value = try await body(self)
        } catch {
            // The connection may be gone or cancelled; the pool discards it then, which rolls back.
            try? await executeScript("ROLLBACK")
            throw error
        }
        do {
            try await commit()
        } catch {
            try? await executeScript("ROLLBACK")
            throw error
        }
        return value
    }
}
