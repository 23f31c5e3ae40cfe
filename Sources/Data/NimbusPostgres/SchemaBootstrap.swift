import Logging

/// Schema ownership (docs/ARCHITECTURE.md §5): with an admin DSN, makes `role` a login role that owns
/// `schema`, with no rights granted on other schemas and the schema closed to PUBLIC. Idempotent;
/// re-running sets the password again, so it also rotates it.
///
/// The password travels as a bound parameter into a server-side `format(%L)`, so it never appears
/// in SQL text, in statement logs or in errors.
public enum SchemaBootstrap {
    public static func ensure(adminDSN: PostgresDSN, schema: String, role: String, password: String,
                              logger: Logger = Logger(label: "nimbus.bootstrap")) async throws {
        guard PostgresIdentifier.isValid(schema) else {
            throw PostgresError(kind: .misuse, message: "schema name '\(schema)' must match [a-z_][a-z0-9_]*")
        }
        guard PostgresIdentifier.isValid(role) else {
            throw PostgresError(kind: .misuse, message: "role name '\(role)' must match [a-z_][a-z0-9_]*")
        }
        guard password.utf8.count >= 16, !password.utf8.contains(0) else {
            throw PostgresError(kind: .misuse, message: "the role password must have at least 16 characters")
        }
        var configuration = PostgresConfiguration(dsn: adminDSN)
        configuration.minConnections = 0
        configuration.maxConnections = 1
        configuration.statementTimeout = nil
        let pool = try PostgresPool(configuration: configuration, name: "bootstrap", logger: logger)
        defer { Task { await pool.close() } }
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await pool.withTransaction { c in
                    try await c.query("SELECT set_config('nimbus.role', $1, true), set_config('nimbus.schema', $2, true), set_config('nimbus.password', $3, true)",
                                      role, schema, password)
                    try await c.executeScript(script)
                }
                break
            } catch let error as PostgresError where attempt < 3 && (error.kind == .uniqueViolation || error.isRetryable) {
                // Two bootstraps raced to create the same role or schema: the second run finds it.
                continue
            }
        }
        logger.info("schema bootstrap done", metadata: ["db.schema": "\(schema)", "db.role": "\(role)"])
        await pool.close()
    }

    /// Uses only the transaction-local settings above; identifiers through %I, the password through %L.
    private static let script = """
        DO $bootstrap$
        DECLARE
            r text := current_setting('nimbus.role');
            s text := current_setting('nimbus.schema');
            p text := current_setting('nimbus.password');
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
                EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', r, p);
            ELSE
                EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', r, p);
            END IF;
            IF EXISTS (SELECT FROM pg_namespace WHERE nspname = s) THEN
                EXECUTE format('ALTER SCHEMA %I OWNER TO %I', s, r);
            ELSE
                EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, r);
            END IF;
            EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
            EXECUTE format('ALTER ROLE %I SET search_path = %I', r, s);
            PERFORM set_config('nimbus.password', '', true);
        END
        $bootstrap$
        """
}
