import NimbusPostgres
import Testing

@Suite("Configuration validation")
struct PostgresConfigurationTests {
    let dsn = try! PostgresDSN("postgres://svc:hunter2-secret@db.internal:5433/nimbus?sslmode=require")

    @Test("defaults are documented values and valid")
    func defaults() throws {
        let d = PostgresConfiguration.defaults
        #expect(d.minConnections == 2 && d.maxConnections == 10)
        #expect(d.maxLifetime == .seconds(3600) && d.maxIdleTime == .seconds(30))
        #expect(d.healthCheckPeriod == .seconds(30) && d.statementTimeout == .seconds(30))
        try PostgresConfiguration(dsn: dsn).validate()
    }

    @Test("bad values are refused with the field named and no password", arguments: [
        "minConnections", "maxConnections", "minAboveMax", "maxLifetime", "acquireTimeout", "statementTimeout",
    ])
    func invalid(change: String) {
        var c = PostgresConfiguration(dsn: dsn)
        var field = change
        switch change {
        case "minConnections": c.minConnections = -1
        case "maxConnections": c.maxConnections = 0
        case "minAboveMax": c.minConnections = 11; field = "minConnections"
        case "maxLifetime": c.maxLifetime = .zero
        case "acquireTimeout": c.acquireTimeout = .seconds(-1)
        default: c.statementTimeout = .seconds(-1)
        }
        #expect {
            try c.validate()
        } throws: { error in
            let e = error as! PostgresConfiguration.Invalid
            return e.field == field && !e.description.contains("hunter2")
        }
    }

    @Test("DSNs are redacted in both syntaxes and overridable")
    func dsnHandling() throws {
        #expect(dsn.description == "postgres://svc:***@db.internal:5433/nimbus?sslmode=require")
        let kv = try PostgresDSN("host=/tmp port=5 user=a password='p w' dbname=x")
        #expect(!kv.description.contains("p w"))
        #expect(throws: PostgresDSN.Invalid.self) { try PostgresDSN("") }
        do { _ = try PostgresDSN("postgres://u:topsecret@h:99999/db"); Issue.record("accepted a bad port") }
        catch { #expect(!"\(error)".contains("topsecret")) }
        let o = dsn.overriding(user: "other", password: "p@ss/word", database: "elsewhere")
        #expect(o.user == "other" && o.database == "elsewhere" && o.hasPassword)
        #expect(o.parameters.contains { $0.key == "sslmode" && $0.value == "require" })
        #expect(!o.description.contains("p@ss"))
        let k = kv.overriding(database: "y")
        #expect(k.database == "y" && k.host == "/tmp")
    }

    @Test("NIMBUS_DB_* variables override the defaults and are validated")
    func environment() throws {
        let c = try PostgresConfiguration(dsn: dsn, environment: [
            "NIMBUS_DB_MAX_CONNECTIONS": "20", "NIMBUS_DB_MIN_CONNECTIONS": "0",
            "NIMBUS_DB_MAX_IDLE_TIME": "5m", "NIMBUS_DB_ACQUIRE_TIMEOUT": "250ms", "NIMBUS_DB_STATEMENT_TIMEOUT": "0",
        ])
        #expect(c.maxConnections == 20 && c.minConnections == 0)
        #expect(c.maxIdleTime == .seconds(300) && c.acquireTimeout == .milliseconds(250) && c.statementTimeout == nil)
        #expect(throws: PostgresConfiguration.Invalid.self) {
            try PostgresConfiguration(dsn: dsn, environment: ["NIMBUS_DB_MAX_CONNECTIONS": "lots"])
        }
        #expect(throws: PostgresConfiguration.Invalid.self) {
            try PostgresConfiguration(dsn: dsn, environment: ["NIMBUS_DB_MAX_LIFETIME": "soon"])
        }
        #expect(throws: PostgresConfiguration.Invalid.self) {
            try PostgresConfiguration(dsn: dsn, environment: ["NIMBUS_DB_MIN_CONNECTIONS": "50"])
        }
    }
}
