import Foundation
import NimbusPostgres
import NimbusTestSupport
import Testing

@Suite("Schema ownership")
struct SchemaBootstrapTests {
    @Test("each service role owns its schema and cannot read another's")
    func isolation() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        // Roles are cluster-wide: unique names keep parallel tests apart.
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let (roleA, roleB) = ("alpha_\(suffix)", "beta_\(suffix)")
        let (passA, passB) = (UUID().uuidString, UUID().uuidString)
        try await SchemaBootstrap.ensure(adminDSN: db.adminDSN, schema: "alpha", role: roleA, password: passA)
        try await SchemaBootstrap.ensure(adminDSN: db.adminDSN, schema: "beta", role: roleB, password: passB)
        // Idempotent (and a password rotation).
        try await SchemaBootstrap.ensure(adminDSN: db.adminDSN, schema: "alpha", role: roleA, password: passA)

        func pool(_ role: String, _ password: String) throws -> PostgresPool {
            var c = PostgresConfiguration(dsn: db.adminDSN.overriding(user: role, password: password))
            c.minConnections = 0
            return try PostgresPool(configuration: c, name: role)
        }
        let a = try pool(roleA, passA), b = try pool(roleB, passB)
        // search_path points at the role's own schema.
        try await a.execute("CREATE TABLE secrets (v text)")
        try await a.execute("INSERT INTO secrets VALUES ($1)", "alpha-only")
        #expect(try await a.query("SELECT v FROM alpha.secrets").first!.decode(String.self, at: 0) == "alpha-only")
        try await b.execute("CREATE TABLE things (v text)")

        let denied = await #expect(throws: PostgresError.self) { try await b.query("SELECT v FROM alpha.secrets") }
        #expect(denied?.kind == .insufficientPrivilege && denied?.sqlState == "42501")
        #expect(denied?.message.contains("permission denied") == true)
        await #expect(throws: PostgresError.self) { try await a.query("CREATE TABLE beta.intruder (v text)") }
        await #expect(throws: PostgresError.self) { try await a.query("CREATE TABLE public.intruder (v text)") }

        // A wrong password is refused.
        let wrong = try pool(roleA, "not-the-password")
        let auth = await #expect(throws: PostgresError.self) { try await wrong.query("SELECT 1") }
        #expect(auth?.kind == .connectionFailure && auth?.description.contains("not-the-password") == false)
        for p in [a, b, wrong] { await p.close() }
    }

    @Test("bad names and short passwords are refused before connecting")
    func validation() async throws {
        let dsn = try PostgresDSN("postgresql://admin:pw@127.0.0.1:1/x")
        await #expect(throws: PostgresError.self) {
            try await SchemaBootstrap.ensure(adminDSN: dsn, schema: "Bad-Name", role: "r", password: String(repeating: "x", count: 20))
        }
        await #expect(throws: PostgresError.self) {
            try await SchemaBootstrap.ensure(adminDSN: dsn, schema: "ok", role: "r; drop", password: String(repeating: "x", count: 20))
        }
        await #expect(throws: PostgresError.self) {
            try await SchemaBootstrap.ensure(adminDSN: dsn, schema: "ok", role: "r", password: "short")
        }
    }
}
