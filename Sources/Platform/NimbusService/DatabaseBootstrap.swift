import ArgumentParser
import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres

/// `nimbus-<svc> db-bootstrap`: with an admin DSN, creates the service's schema and login role
/// (rights on its own schema only). Run by `make up` and deployments before the service starts.
public struct DatabaseBootstrap<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "db-bootstrap",
            abstract: "Create the service's schema and login role with an admin DSN (idempotent; re-sets the password).")
    }

    @Option(help: "Admin (superuser or CREATEROLE) DSN (env NIMBUS_ADMIN_DATABASE_URL).")
    public var adminURL: String?

    @Option(help: "Login role to create; defaults to the schema name.")
    public var role: String?

    @Option(help: "Write the service's DSN (with the role's password) to this file, mode 0600. Needed when NIMBUS_ROLE_PASSWORD is unset.")
    public var dsnFile: String?

    public init() {}

    public func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        NimbusLogging.bootstrap(format: .json, level: .info)
        let logger = Logger(label: Definition.executableName)
        guard let schema = Definition.schema else { throw ValidationError("\(Definition.executableName) owns no database schema") }
        guard let adminText = adminURL ?? environment["NIMBUS_ADMIN_DATABASE_URL"], !adminText.isEmpty else {
            throw ValidationError("an admin DSN is needed: --admin-url or NIMBUS_ADMIN_DATABASE_URL")
        }
        let admin: PostgresDSN
        do { admin = try PostgresDSN(adminText) } catch { throw ValidationError("\(error)") }
        let roleName = role ?? schema
        // The password comes from the environment (never a flag: argv is world-readable) or is generated.
        var password = environment["NIMBUS_ROLE_PASSWORD"] ?? ""
        if password.isEmpty {
            guard dsnFile != nil else {
                throw ValidationError("set NIMBUS_ROLE_PASSWORD or pass --dsn-file to receive a generated password")
            }
            password = try Self.generatePassword()
        }
        try await SchemaBootstrap.ensure(adminDSN: admin, schema: schema, role: roleName, password: password, logger: logger)
        if let dsnFile {
            let dsn = admin.overriding(user: roleName, password: password)
            let fd = open(dsnFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw ValidationError("cannot write \(dsnFile): errno \(errno)") }
            defer { close(fd) }
            fchmod(fd, 0o600)
            let bytes = Array((dsn.raw + "\n").utf8)
            guard write(fd, bytes, bytes.count) == bytes.count else { throw ValidationError("cannot write \(dsnFile)") }
        }
        print("schema \(schema) owned by role \(roleName)")
    }

    static func generatePassword() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 24)
        let fd = open("/dev/urandom", O_RDONLY)
        guard fd >= 0, read(fd, &bytes, bytes.count) == bytes.count else { throw ValidationError("cannot read /dev/urandom") }
        close(fd)
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
