import NimbusPostgres

/// `SQLDatabase` over the NimbusPostgres pool: text parameters, rows decoded as text, and
/// server errors reduced to SQLSTATE + constraint for the domain mapping.
struct PostgresSQLDatabase: SQLDatabase {
    let pool: PostgresPool

    func query(_ sql: String, _ parameters: [String?]) async throws -> [SQLRow] {
        try await Self.translating { try Self.rows(try await pool.query(sql, binds: parameters.map { $0 as any PostgresEncodable })) }
    }

    func transaction<T: Sendable>(snapshot: Bool, _ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await Self.translating {
            try await pool.withTransaction(isolation: snapshot ? .repeatableRead : .readCommitted, readOnly: snapshot) { connection in
                try await body(ConnectionExecutor(connection: connection))
            }
        }
    }

    struct ConnectionExecutor: SQLExecutor {
        let connection: PostgresConnection
        func query(_ sql: String, _ parameters: [String?]) async throws -> [SQLRow] {
            try await PostgresSQLDatabase.translating {
                try PostgresSQLDatabase.rows(try await connection.query(sql, binds: parameters.map { $0 as any PostgresEncodable }))
            }
        }
    }

    static func rows(_ rows: PostgresRows) throws -> [SQLRow] {
        let columns = rows.columns
        return try rows.map { row in
            var values: [String: String?] = [:]
            values.reserveCapacity(columns.count)
            for (index, name) in columns.enumerated() {
                values[name] = try row.decode(String?.self, at: index)
            }
            return SQLRow(values)
        }
    }

    static func translating<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresError where error.sqlState != nil && error.kind != .connectionFailure {
            throw SQLFailure(sqlState: error.sqlState ?? "", constraint: error.constraint, message: error.message)
        }
    }
}
