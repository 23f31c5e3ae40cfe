import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres
import NimbusService
import Synchronization
@testable import NimbusIdentity

/// One throwaway PostgreSQL per test process (scripts/test-postgres.sh, stopped by its
/// watchdog when the process exits) or `NIMBUS_TEST_DATABASE_URL`; each test gets a fresh
/// database with the identity schema applied.
actor IdentityTestDatabase {
    static let shared = IdentityTestDatabase()
    private var serverURL: String?

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func server() throws -> String {
        if let serverURL { return serverURL }
        if let url = ProcessInfo.processInfo.environment["NIMBUS_TEST_DATABASE_URL"], !url.isEmpty {
            serverURL = url
            return url
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-identity-tests-\(getpid())").path
        // system(3), not Foundation.Process: waitUntilExit can hang on a concurrency thread, and
        // the server the script starts inherits descriptors (so no pipe either).
        let script = Self.repositoryRoot.appendingPathComponent("scripts/test-postgres.sh").path
        let outputPath = directory + ".out"
        let status = system("'\(script)' start '\(directory)' --watch-pid \(getpid()) > '\(outputPath)' 2>&1 < /dev/null")
        let data = (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data()
        try? FileManager.default.removeItem(atPath: outputPath)
        guard status == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("TCP_DSN=") })
        else { throw TestSetupError("test-postgres.sh failed (status \(status)): \(String(decoding: data, as: UTF8.self))") }
        let url = String(line.dropFirst("TCP_DSN=".count))
        serverURL = url
        return url
    }

    /// A pool on a new, empty database with the identity schema applied.
    func freshPool() async throws -> PostgresPool {
        let url = try server()
        let admin = try PostgresPool(configuration: PostgresConfiguration(dsn: try PostgresDSN(url)), name: "test-admin")
        let name = "identity_test_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.withConnection { try await $0.executeScript("CREATE DATABASE \(name)") }
        await admin.close()
        guard let slash = url.lastIndex(of: "/") else { throw TestSetupError("unexpected DSN shape") }
        var configuration = PostgresConfiguration(dsn: try PostgresDSN(String(url[..<slash]) + "/" + name))
        configuration.maxConnections = 16
        configuration.acquireTimeout = .seconds(30)
        let pool = try PostgresPool(configuration: configuration, name: name)
        _ = try await identityMigrator(pool).up()
        return pool
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current = Mutex(Date())
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

let testSigner = try! PrincipalSigner(key: Secret("identity-tests-principal-key-0123456789"))

/// A core over a fresh database with cheap scrypt parameters (tests only).
func makeCore(_ pool: PostgresPool, clock: TestClock? = nil, lease: Duration = .seconds(3),
              throttle: LoginThrottle = LoginThrottle(), epochFeed: Bool = false) throws -> IdentityCore {
    let now: @Sendable () -> Date
    if let clock { now = { clock.now() } } else { now = { Date() } }
    return IdentityCore(db: pool, signer: testSigner,
                        hasher: try PasswordHasher(parameters: .testing, allowWeak: true),
                        logger: Logger(label: "identity-test"), throttle: throttle, authLease: lease,
                        epochFeed: epochFeed ? try authEpochFeed(pool.configuration, logger: Logger(label: "identity-test")) : nil,
                        now: now)
}

/// Two tenants with an admin each, plus the platform admin who bootstrapped.
struct TwoTenants {
    var core: IdentityCore
    var pool: PostgresPool
    var root: Actor
    var rootKey: String
    var alice: UserRecord
    var tenantA: TenantRecord
    var aliceActor: Actor
    var bob: UserRecord
    var tenantB: TenantRecord
    var bobActor: Actor

    static func make(clock: TestClock? = nil, lease: Duration = .seconds(3), epochFeed: Bool = false) async throws -> TwoTenants {
        let pool = try await IdentityTestDatabase.shared.freshPool()
        let core = try makeCore(pool, clock: clock, lease: lease, epochFeed: epochFeed)
        guard let boot = try await core.bootstrap(email: "root@example.com", password: "root-password-1", tenantSlug: "platform", tenantName: "Platform")
        else { throw TestSetupError("bootstrap did nothing") }
        let root = Actor(principal: try await core.authenticate(apiKey: boot.apiKey), requestID: "setup")
        func admin(_ name: String, slug: String) async throws -> (UserRecord, TenantRecord, Actor) {
            let user = try await core.createUser(root, .init(email: "\(name)@example.com", name: name, password: "\(name)-password-1",
                                                             role: "viewer", isPlatformAdmin: false))
            let creator = Actor(principal: Principal(userID: user.id, tenantID: "", role: "", permissions: []), requestID: "setup")
            let tenant = try await core.createTenant(creator, name: slug.uppercased(), slug: slug)
            let actor = Actor(principal: Principal(userID: user.id, tenantID: tenant.id, role: "admin",
                                                   permissions: BuiltInRole.admin.permissions), requestID: "req-\(name)")
            return (user, tenant, actor)
        }
        let (alice, tenantA, aliceActor) = try await admin("alice", slug: "tenant-a")
        let (bob, tenantB, bobActor) = try await admin("bob", slug: "tenant-b")
        return TwoTenants(core: core, pool: pool, root: root, rootKey: boot.apiKey, alice: alice, tenantA: tenantA,
                          aliceActor: aliceActor, bob: bob, tenantB: tenantB, bobActor: bobActor)
    }

    func close() async { await pool.close() }
}


/// The shared migrator over identity's embedded migrations (what `serve` runs).
func identityMigrator(_ pool: PostgresPool) throws -> Migrator {
    try Migrator(pool: pool, schema: "identity", migrations: MigrationRunner.migrations(for: IdentityServiceDefinition.self),
                 logger: Logger(label: "test"))
}
