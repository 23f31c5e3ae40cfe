import NimbusPostgres

/// Rows of a table that need work, taken in batches by whichever replica asks first.
///
/// A claim is a timestamp column on the work's own table (`claimColumn`, nullable
/// `timestamptz`): a row is claimable while it matches `pending` and its claim is NULL or in
/// the past. `claim` stamps a batch `now() + ttl` under `FOR UPDATE SKIP LOCKED`, so two
/// replicas asking at once get disjoint batches without waiting for each other; a claimer that
/// crashes leaves stamps that simply expire, and the rows are taken again. The claimer clears
/// the stamp when it records the outcome (usually in the same UPDATE), or lets it expire to
/// retry later.
///
///     let work = WorkClaims(table: "compute.instances", key: "id", claimColumn: "worker_lease",
///                           pending: "state IN ('PENDING', 'STOPPING')", order: "updated_at")
///     let ids = try await work.claim(on: connection, limit: 8, for: .seconds(60))
public struct WorkClaims: Sendable {
    public let table: String
    public let key: String
    public let claimColumn: String
    /// SQL condition for rows that need work (no parameters).
    public let pending: String
    /// SQL ordering of the claimable rows (oldest first, usually).
    public let order: String

    public init(table: String, key: String = "id", claimColumn: String, pending: String, order: String) {
        self.table = table
        self.key = key
        self.claimColumn = claimColumn
        self.pending = pending
        self.order = order
    }

    /// The statement `claim` runs: $1 the batch size, $2 the claim's seconds.
    public var claimSQL: String {
        """
        UPDATE \(table) SET \(claimColumn) = now() + make_interval(secs => $2::double precision)
        WHERE \(key) IN (
            SELECT \(key) FROM \(table)
            WHERE (\(pending)) AND (\(claimColumn) IS NULL OR \(claimColumn) < now())
            ORDER BY \(order) LIMIT $1::integer FOR UPDATE SKIP LOCKED)
        RETURNING \(key)::text AS key
        """
    }

    /// Claims up to `limit` rows for `ttl`; returns their keys as text.
    public func claim(on connection: PostgresConnection, limit: Int, for ttl: Duration) async throws -> [String] {
        try await connection.query(claimSQL, binds: [limit, ttl.seconds]).map { try $0.decode(String.self, column: "key") }
    }

    public func claim(on pool: PostgresPool, limit: Int, for ttl: Duration) async throws -> [String] {
        try await pool.withConnection { try await claim(on: $0, limit: limit, for: ttl) }
    }

    /// Gives claimed rows back before their claim expires (work that could not start).
    public func release(_ keys: [String], on pool: PostgresPool) async throws {
        guard !keys.isEmpty else { return }
        _ = try await pool.query("UPDATE \(table) SET \(claimColumn) = NULL WHERE \(key)::text = ANY($1::text[])", binds: [keys])
    }
}
