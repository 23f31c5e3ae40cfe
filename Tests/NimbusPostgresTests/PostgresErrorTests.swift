import Foundation
import NimbusPostgres
import NimbusRPCCore
import NimbusService
import NimbusTestSupport
import Testing

@Suite("Errors as typed values")
struct PostgresErrorTests {
    @Test("unique, check, foreign key and not-null violations name their constraint")
    func constraintViolations() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        try await pool.withConnection { c in
            try await c.executeScript("""
                CREATE TABLE owners (id int PRIMARY KEY, email text NOT NULL,
                    CONSTRAINT owners_email_unique UNIQUE (email),
                    CONSTRAINT owners_email_shape CHECK (email LIKE '%@%'));
                CREATE TABLE pets (id int PRIMARY KEY, owner_id int NOT NULL,
                    CONSTRAINT pets_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id));
                """)
        }
        try await pool.execute("INSERT INTO owners VALUES ($1, $2)", 1, "a@example.com")

        let unique = await #expect(throws: PostgresError.self) {
            try await pool.execute("INSERT INTO owners VALUES ($1, $2)", 2, "a@example.com")
        }
        #expect(unique?.kind == .uniqueViolation && unique?.sqlState == "23505")
        #expect(unique?.constraint == "owners_email_unique" && unique?.table == "owners")
        // The offending value is only in `detail`, never in the description.
        #expect(unique?.description.contains("a@example.com") == false)

        let check = await #expect(throws: PostgresError.self) {
            try await pool.execute("INSERT INTO owners VALUES ($1, $2)", 3, "not-an-email")
        }
        #expect(check?.kind == .checkViolation && check?.constraint == "owners_email_shape")

        let fk = await #expect(throws: PostgresError.self) {
            try await pool.execute("INSERT INTO pets VALUES ($1, $2)", 1, 99)
        }
        #expect(fk?.kind == .foreignKeyViolation && fk?.constraint == "pets_owner_fk")

        let notNull = await #expect(throws: PostgresError.self) {
            try await pool.execute("INSERT INTO owners VALUES ($1, $2)", 4, String?.none)
        }
        #expect(notNull?.kind == .notNullViolation && notNull?.column == "email")

        let syntax = await #expect(throws: PostgresError.self) { try await pool.query("SELEC 1") }
        #expect(syntax?.kind == .server && syntax?.sqlState == "42601")
        // Errors leave the connection usable.
        #expect(try await pool.query("SELECT count(*) FROM owners").first!.decode(Int.self, at: 0) == 1)
        await pool.close()
    }

    @Test("a statement timeout arrives as a cancel")
    func statementTimeout() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool { $0.statementTimeout = .milliseconds(100) }
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_sleep(2)") }
        #expect(error?.kind == .queryCanceled && error?.sqlState == "57014")
        await pool.close()
    }

    @Test("sslmode passes through to libpq")
    func sslmodePassthrough() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        // The test server has no TLS: requiring it must fail in libpq, proving the setting arrived.
        var configuration = PostgresConfiguration(dsn: try PostgresDSN(db.tcpAdminDSN.raw + "&sslmode=require"))
        configuration.minConnections = 0
        let pool = try PostgresPool(configuration: configuration)
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.kind == .connectionFailure && error?.message.contains("SSL") == true)
        await pool.close()
        let plain = try PostgresPool(configuration: PostgresConfiguration(dsn: try PostgresDSN(db.tcpAdminDSN.raw + "&sslmode=disable")))
        #expect(try await plain.query("SELECT 1").count == 1)
        await plain.close()
    }

    @Test("a connection failure is typed and never shows the password")
    func connectionFailure() async throws {
        let dsn = try PostgresDSN("postgresql://nobody:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=1")
        var configuration = PostgresConfiguration(dsn: dsn)
        configuration.minConnections = 0
        let pool = try PostgresPool(configuration: configuration)
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.kind == .connectionFailure)
        #expect(error?.description.contains("s3cret-pw") == false)
        #expect(error?.description.contains("***") == true)
        await pool.close()
    }
}

@Suite("Errors to RPC status")
struct PostgresErrorRPCTests {
    @Test("SQLSTATEs map to kinds and kinds to gRPC codes", arguments: [
        ("23505", RPCCode.alreadyExists), ("23503", .failedPrecondition), ("23514", .invalidArgument),
        ("23502", .invalidArgument), ("40001", .aborted), ("40P01", .aborted), ("57014", .cancelled),
        ("08006", .unavailable), ("57P01", .unavailable), ("42601", .internal),
    ])
    func mapping(state: String, code: RPCCode) {
        let error = PostgresError(kind: PostgresError.kind(forSQLState: state), sqlState: state, message: "m",
                                  constraint: "c_name", detail: "Key (email)=(secret@example.com) already exists.")
        let rpc = RPCError(mapping: error)
        #expect(rpc.code == code)
        #expect(!rpc.message.contains("secret@example.com"))
    }
}
