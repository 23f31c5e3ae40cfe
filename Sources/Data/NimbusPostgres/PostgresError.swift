/// An error from the database layer. Repositories switch on `kind` (and `constraint`) to turn it
/// into a domain error; `description` never contains a password or a bound parameter value.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough to act on. Extensible: new kinds may appear.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// 23505: a UNIQUE or PRIMARY KEY constraint (see `constraint`).
        public static let uniqueViolation = Kind(name: "unique violation")
        /// 23503: a FOREIGN KEY constraint.
        public static let foreignKeyViolation = Kind(name: "foreign key violation")
        /// 23514: a CHECK constraint.
        public static let checkViolation = Kind(name: "check violation")
        /// 23502: a NOT NULL column (see `column`).
        public static let notNullViolation = Kind(name: "not null violation")
        /// 23P01: an EXCLUDE constraint.
        public static let exclusionViolation = Kind(name: "exclusion violation")
        /// 40001: the transaction must be retried.
        public static let serializationFailure = Kind(name: "serialization failure")
        /// 40P01: the transaction must be retried.
        public static let deadlockDetected = Kind(name: "deadlock detected")
        /// 57014: cancelled (task cancellation, statement_timeout).
        public static let queryCanceled = Kind(name: "query canceled")
        /// 42501 and friends: the role lacks a privilege.
        public static let insufficientPrivilege = Kind(name: "insufficient privilege")
        /// Class 08, 57P01-03, or a dropped socket: the connection is gone (the pool discards it).
        public static let connectionFailure = Kind(name: "connection failure")
        /// No connection became free within `acquireTimeout`.
        public static let poolTimeout = Kind(name: "pool timeout")
        /// The pool was shut down.
        public static let poolClosed = Kind(name: "pool closed")
        /// A row value could not be decoded into the requested Swift type.
        public static let decoding = Kind(name: "decoding")
        /// Migration bookkeeping refused to run (dirty, checksum, duplicate version …).
        public static let migration = Kind(name: "migration")
        /// Any other server error; see `sqlState`.
        public static let server = Kind(name: "server error")
        /// A misuse of the API (e.g. a connection used after its closure returned).
        public static let misuse = Kind(name: "misuse")
    }

    public var kind: Kind
    /// The five-character SQLSTATE from the server, when there is one.
    public var sqlState: String?
    /// The server's primary message (or the client-side reason).
    public var message: String
    /// The constraint named by the server for 23xxx errors.
    public var constraint: String?
    public var schema: String?
    public var table: String?
    public var column: String?
    /// The server's DETAIL line. It may quote row values, so it is kept out of `description`.
    public var detail: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, constraint: String? = nil,
                schema: String? = nil, table: String? = nil, column: String? = nil, detail: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.constraint = constraint
        self.schema = schema
        self.table = table
        self.column = column
        self.detail = detail
    }

    /// True for 40001 and 40P01: a retryable transaction runs again.
    public var isRetryable: Bool { kind == .serializationFailure || kind == .deadlockDetected }

    public var description: String {
        var text = "PostgreSQL \(kind)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let constraint { text += " (constraint \(constraint))" }
        return text
    }

    /// Maps a SQLSTATE to a kind; unknown states are `.server`.
    public static func kind(forSQLState state: String) -> Kind {
        switch state {
        case "23505": return .uniqueViolation
        case "23503": return .foreignKeyViolation
        case "23514": return .checkViolation
        case "23502": return .notNullViolation
        case "23P01": return .exclusionViolation
        case "40001": return .serializationFailure
        case "40P01": return .deadlockDetected
        case "57014": return .queryCanceled
        case "42501": return .insufficientPrivilege
        case "57P01", "57P02", "57P03": return .connectionFailure
        default:
            return state.hasPrefix("08") ? .connectionFailure : .server
        }
    }
}
