import ArgumentParser
import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import NimbusService

extension IdentityServiceDefinition {
    /// `bootstrap` beside the shared `serve`, `migrate` and `db-bootstrap`.
    public static var extraSubcommands: [any ParsableCommand.Type] { [IdentityBootstrap.self] }
}

struct IdentityBootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the first platform admin, a tenant and an API key (printed once), if no user exists yet.")

    @OptionGroup var options: ServiceOptions

    @Option(help: "Email of the first admin.")
    var email: String

    @Option(help: "Password for the admin (default: a random one, printed once).")
    var password: String?

    @Option(help: "Slug of the first tenant.")
    var tenant: String = "default"

    @Option(help: "Display name of the first tenant (default: the slug).")
    var tenantName: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let config: ServiceConfig
        let signer: PrincipalSigner
        let dsn: PostgresDSN
        do {
            config = try ServiceConfig.resolve(options, for: IdentityServiceDefinition.self, environment: environment)
            guard let database = config.database else {
                throw ConfigError(setting: "database-url", problem: "bootstrap needs the identity database (NIMBUS_IDENTITY_DATABASE_URL or DATABASE_URL)")
            }
            dsn = database
            signer = try PrincipalSigner.fromEnvironment(ConfigSource(environment: environment))
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("nimbus-identity: \(error)\n".utf8))
            throw ExitCode(78)
        }
        NimbusLogging.bootstrap(format: config.logFormat, level: config.logLevel)
        let logger = Logger(label: IdentityServiceDefinition.executableName)
        var migrate = config
        migrate.migrateOnly = true
        _ = try await MigrationRunner.prepare(config: migrate, definition: IdentityServiceDefinition.self, logger: logger)

        var poolConfiguration = PostgresConfiguration(dsn: dsn)
        poolConfiguration.minConnections = 0
        poolConfiguration.maxConnections = 2
        let pool = try PostgresPool(configuration: poolConfiguration, name: "identity-bootstrap", logger: logger)
        let core = IdentityCore(db: pool, signer: signer,
                                hasher: try PasswordHasher(parameters: .production), logger: logger)
        do {
            let result = try await core.bootstrap(email: email, password: password, tenantSlug: tenant, tenantName: tenantName ?? tenant)
            await pool.close()
            guard let result else {
                FileHandle.standardError.write(Data("nimbus-identity: already bootstrapped (users exist); nothing created\n".utf8))
                return
            }
            Self.printResult(result)
        } catch let error as IdentityError {
            await pool.close()
            FileHandle.standardError.write(Data("nimbus-identity: bootstrap: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func printResult(_ result: IdentityCore.BootstrapResult) {
        var text = """
            Bootstrapped nimbus-identity.
              admin:   \(result.user.email) (\(result.user.id))
              tenant:  \(result.tenant.slug) (\(result.tenant.id))
              api key: \(result.apiKey)

            """
        if let password = result.password { text += "  password: \(password)\n" }
        text += "The key and password are shown only now; store them safely.\n"
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Every service identity hosts.
enum IdentityServices {
    static func all(_ core: IdentityCore, s3: S3CredentialStore? = nil) -> [any RPCService] {
        [UsersHandler(core: core), TenantsHandler(core: core), RolesHandler(core: core), ApiKeysHandler(core: core, s3: s3),
         QuotasHandler(core: core), AuditHandler(core: core), AuthHandler(core: core)]
            + (s3.map { [S3CredentialsHandler(core: core, store: $0)] } ?? [])
    }
}
