import ArgumentParser
import Dispatch
import Foundation
import Logging
import NimbusGRPC
import NimbusHTTP
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import NimbusService
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `nimbus-identity`: `serve` (the default) and `bootstrap`.
public struct IdentityCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: IdentityServiceDefinition.executableName,
        abstract: IdentityServiceDefinition.abstract,
        version: NimbusVersion.current,
        subcommands: [IdentityServe.self, IdentityBootstrap.self],
        defaultSubcommand: IdentityServe.self)
    public init() {}
}

/// Settings beyond the shared service options.
struct IdentitySettings {
    var service: ServiceConfig
    var database: PostgresDSN
    var signer: PrincipalSigner

    static func resolve(_ options: ServiceOptions, principalKey: String?) throws -> IdentitySettings {
        let environment = ProcessInfo.processInfo.environment
        let service = try ServiceConfig.resolve(options, for: IdentityServiceDefinition.self, environment: environment)
        guard let database = service.database else {
            throw ConfigError(setting: "database-url", problem: "identity needs a database (NIMBUS_IDENTITY_DATABASE_URL or DATABASE_URL)")
        }
        let signer = try PrincipalSigner.fromEnvironment(ConfigSource(environment: environment), flag: principalKey)
        return IdentitySettings(service: service, database: database, signer: signer)
    }

    /// Resolves or exits with one clear line (EX_CONFIG) that never shows a secret.
    static func resolveOrExit(_ options: ServiceOptions, principalKey: String?) throws -> IdentitySettings {
        do {
            return try resolve(options, principalKey: principalKey)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("\(IdentityServiceDefinition.executableName): \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    func openCore(logger: Logger) async throws -> (IdentityCore, PostgresPool) {
        var configuration = PostgresConfiguration(dsn: database)
        configuration.applicationName = IdentityServiceDefinition.executableName
        configuration.maxConnections = 20
        let pool = try PostgresPool(configuration: configuration, name: "identity", logger: logger)
        if service.autoMigrate || service.migrateOnly {
            try await IdentitySchema.ensure(pool, logger: logger)
        }
        let core = IdentityCore(db: PostgresSQLDatabase(pool: pool), signer: signer,
                                hasher: try PasswordHasher(parameters: .production), logger: logger)
        return (core, pool)
    }
}

struct IdentityServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the service (the default).")

    @OptionGroup var options: ServiceOptions

    @Option(help: "Shared key (≥ 32 bytes) that signs principals between services (env NIMBUS_PRINCIPAL_KEY).")
    var principalKey: String?

    @Option(help: "On an empty installation, create this first admin and print an API key once (env NIMBUS_BOOTSTRAP_EMAIL).")
    var bootstrapEmail: String?

    func run() async throws {
        let settings = try IdentitySettings.resolveOrExit(options, principalKey: principalKey)
        NimbusLogging.bootstrap(format: settings.service.logFormat, level: settings.service.logLevel)
        NimbusMetrics.bootstrap()
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: IdentityServiceDefinition.executableName)
        let (core, pool) = try await settings.openCore(logger: logger)
        if settings.service.migrateOnly {
            await pool.close()
            return
        }
        if let email = bootstrapEmail ?? ProcessInfo.processInfo.environment["NIMBUS_BOOTSTRAP_EMAIL"], !email.isEmpty,
           let result = try await core.bootstrap(email: email, password: nil, tenantSlug: "default", tenantName: "Default") {
            IdentityBootstrap.printResult(result)
        }

        var grpc = GRPCServerConfiguration(host: settings.service.listen.host, port: settings.service.listen.port,
                                           threads: settings.service.threads == 0 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : settings.service.threads)
        if let cert = settings.service.tlsCertificatePath, let key = settings.service.tlsKeyPath {
            grpc.tls = .init(certificateChainPath: cert, privateKeyPath: key)
        }
        let server = try GRPCServer(
            configuration: grpc, services: IdentityServices.all(core),
            operational: HTTPOperationalEndpoints(readiness: { (try? await pool.ping()) != nil }, metrics: { NimbusMetrics.render() }),
            logger: logger)
        try await server.start()
        logger.info("serving", metadata: ["listen": "\(settings.service.listen.host):\(server.port)"])

        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signals = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for source in signals {
            source.setEventHandler { Task { await server.shutdown(gracePeriod: .seconds(10)) } }
            source.resume()
        }
        // last_used_at is written in batches, never per request.
        let flusher = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                await core.flushLastUsed()
            }
        }
        try await server.run()
        flusher.cancel()
        await core.flushLastUsed()
        await pool.close()
        withExtendedLifetime(signals) {}
    }
}

struct IdentityBootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the first platform admin, a tenant and an API key (printed once), if no user exists yet.")

    @OptionGroup var options: ServiceOptions

    @Option(help: "Shared principal key (env NIMBUS_PRINCIPAL_KEY).")
    var principalKey: String?

    @Option(help: "Email of the first admin.")
    var email: String

    @Option(help: "Password for the admin (default: a random one, printed once).")
    var password: String?

    @Option(help: "Slug of the first tenant.")
    var tenant: String = "default"

    @Option(help: "Display name of the first tenant (default: the slug).")
    var tenantName: String?

    func run() async throws {
        let settings = try IdentitySettings.resolveOrExit(options, principalKey: principalKey)
        NimbusLogging.bootstrap(format: settings.service.logFormat, level: settings.service.logLevel)
        let logger = Logger(label: IdentityServiceDefinition.executableName)
        let (core, pool) = try await settings.openCore(logger: logger)
        defer { Task { await pool.close() } }
        do {
            guard let result = try await core.bootstrap(email: email, password: password, tenantSlug: tenant, tenantName: tenantName ?? tenant) else {
                FileHandle.standardError.write(Data("nimbus-identity: already bootstrapped (users exist); nothing created\n".utf8))
                return
            }
            Self.printResult(result)
        } catch let error as IdentityError {
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
public enum IdentityServices {
    static func all(_ core: IdentityCore) -> [any RPCService] {
        [UsersHandler(core: core), TenantsHandler(core: core), RolesHandler(core: core), ApiKeysHandler(core: core),
         QuotasHandler(core: core), AuditHandler(core: core), AuthHandler(core: core)]
    }
}

/// The whole of `nimbus-identity`'s main.
public enum IdentityMain {
    public static func run() async { await IdentityCommand.main() }
}
