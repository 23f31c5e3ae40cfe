import ArgumentParser
import Logging
import NimbusPlatform
import NimbusPostgres
import NimbusService
import Testing

private enum TestService: ServiceDefinition {
    static let executableName = "nimbus-test"
    static let abstract = "test"
    static let schema: String? = "test"
    static let defaultPort = 7999
    static let databaseURLEnvironment = "NIMBUS_TEST_DATABASE_URL"
}

/// A service without a schema, as the gateway is.
private enum StatelessService: ServiceDefinition {
    static let executableName = "nimbus-stateless"
    static let abstract = "test"
    static let schema: String? = nil
    static let defaultPort = 7998
    static let databaseURLEnvironment = "NIMBUS_STATELESS_DATABASE_URL"
}

@Suite struct ServiceConfigTests {
    private func resolve(_ arguments: [String], _ environment: [String: String] = [:]) throws -> ServiceConfig {
        try ServiceConfig.resolve(try ServiceOptions.parse(arguments), for: TestService.self, environment: environment)
    }

    @Test func defaultsApplyWhenNothingIsSet() throws {
        let config = try resolve([])
        #expect(config.listen == HostPort(host: "127.0.0.1", port: 7999))
        #expect(config.database == nil)
        #expect(config.logLevel == .info)
        #expect(config.autoMigrate)
    }

    @Test func flagsWinOverEnvironmentWhichWinsOverDefaults() throws {
        let environment = ["NIMBUS_LISTEN": "0.0.0.0:9000", "NIMBUS_LOG_LEVEL": "debug"]
        #expect(try resolve([], environment).listen.port == 9000)
        #expect(try resolve([], environment).logLevel == .debug)
        #expect(try resolve(["--listen", "127.0.0.1:9100"], environment).listen.port == 9100)
    }

    @Test func serviceDatabaseURLWinsOverSharedOne() throws {
        let environment = [
            "DATABASE_URL": "postgres://shared@localhost/nimbus",
            "NIMBUS_TEST_DATABASE_URL": "postgres://own@localhost/nimbus",
        ]
        #expect(try resolve([], environment).database?.user == "own")
        #expect(try resolve([], ["DATABASE_URL": "postgres://shared@localhost/nimbus"]).database?.user == "shared")
    }

    @Test func aServiceWithoutASchemaNeverTakesTheSharedDatabaseURL() throws {
        let environment = ["DATABASE_URL": "postgres://shared@localhost/nimbus"]
        let config = try ServiceConfig.resolve(try ServiceOptions.parse([]), for: StatelessService.self, environment: environment)
        #expect(config.database == nil)
        // Its own setting is refused rather than ignored, naming where it came from.
        for (arguments, environment) in [(["--database-url", "postgres://own@localhost/nimbus"], [String: String]()),
                                         ([], ["NIMBUS_STATELESS_DATABASE_URL": "postgres://own:hunter2@localhost/nimbus"])] {
            let error = #expect(throws: ConfigError.self) {
                try ServiceConfig.resolve(try ServiceOptions.parse(arguments), for: StatelessService.self, environment: environment)
            }
            #expect(error?.description.contains("holds no database") == true)
            #expect(error?.description.contains("hunter2") == false)
        }
    }

    @Test(arguments: [
        "postgres://alice:hunter2@db.example:notaport/nimbus",
        "postgres://alice:hunter2@db.example:70000/nimbus",
        "host=db password=hunter2 port=abc",
        "host=db password='hunter2",
    ])
    func malformedDatabaseURLIsRejectedWithThePasswordRedacted(_ dsn: String) {
        do {
            _ = try resolve([], ["DATABASE_URL": dsn])
            Issue.record("accepted \(dsn)")
        } catch {
            let text = "\(error)"
            #expect(text.contains("DATABASE_URL"))
            #expect(!text.contains("hunter2"), "password leaked: \(text)")
        }
    }

    @Test func invalidSettingsNameTheSetting() {
        #expect(throws: ConfigError.self) { try resolve(["--listen", "nowhere"]) }
        #expect(throws: ConfigError.self) { try resolve(["--log-level", "loud"]) }
        #expect(throws: ConfigError.self) { try resolve(["--tls-cert", "/tmp/cert.pem"]) }
        #expect(throws: ConfigError.self) { try resolve([], ["NIMBUS_THREADS": "many"]) }
    }

    @Test func dsnDescriptionNeverShowsThePassword() throws {
        let url = try PostgresDSN("postgres://alice:s3cr%40t@localhost:5433/nimbus?sslmode=disable")
        #expect(url.description == "postgres://alice:***@localhost:5433/nimbus?sslmode=disable")
        #expect(url.port == 5433 && url.database == "nimbus" && url.hasPassword)
        let keyValue = try PostgresDSN("host=/tmp port=5433 user=alice password='a b\\' c' dbname=nimbus")
        #expect(keyValue.description == "host=/tmp port=5433 user=alice password=*** dbname=nimbus")
        #expect(keyValue.user == "alice" && keyValue.port == 5433)
    }

    @Test func secretsPrintRedacted() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(secret.reveal() == "hunter2")
    }
}
