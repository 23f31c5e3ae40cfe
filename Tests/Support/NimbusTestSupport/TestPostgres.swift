import Foundation
import NimbusPostgres
import Synchronization

/// A PostgreSQL server for tests. `TestPostgres.shared` is the one server of the test process:
/// the server at `DATABASE_URL` when set, otherwise a throwaway PostgreSQL 15 started on first
/// use (initdb into a temp dir, random port, unix socket) and stopped when the process exits —
/// also if it crashes, through a watchdog. Each test takes its own database:
///
///     let db = try await TestPostgres.shared.makeDatabase()
///     let pool = try PostgresPool(configuration: .init(dsn: db.adminDSN))
public final class TestPostgres: Sendable {
    public static let shared = TestPostgres(external: ProcessInfo.processInfo.environment["DATABASE_URL"])

    /// Where the server runs; `dataDirectory` is nil for an external server.
    public struct Server: Sendable {
        public var adminDSN: PostgresDSN
        public var tcpAdminDSN: PostgresDSN
        public var port: Int?
        public var dataDirectory: String?
    }

    private let external: String?
    private let startTask = Mutex<Task<Server, any Error>?>(nil)
    private let adminPool = Mutex<PostgresPool?>(nil)

    private init(external: String?) {
        self.external = external.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A server of its own (never `DATABASE_URL`), for tests that restart or break it.
    public static func makePrivate() -> TestPostgres { TestPostgres(external: nil) }

    /// Starts the server once; later calls return the same one.
    public func server() async throws -> Server {
        let task = startTask.withLock { task -> Task<Server, any Error> in
            if let task { return task }
            let external = self.external
            let started = Task { try await Self.launch(external: external) }
            task = started
            return started
        }
        return try await task.value
    }

    /// A fresh, empty database and the superuser DSN for it.
    public func makeDatabase(prefix: String = "nimbus_test") async throws -> TestDatabase {
        let server = try await server()
        let name = "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        let pool = try adminPool.withLock { pool -> PostgresPool in
            if let pool { return pool }
            var configuration = PostgresConfiguration(dsn: server.adminDSN)
            configuration.minConnections = 0
            configuration.maxConnections = 4
            configuration.acquireTimeout = .seconds(30)
            configuration.statementTimeout = nil
            let created = try PostgresPool(configuration: configuration, name: "test-admin")
            pool = created
            return created
        }
        // The name is generated above from hex digits only, so it is safe as an identifier.
        try await pool.withConnection { try await $0.executeScript("CREATE DATABASE \(name)") }
        return TestDatabase(name: name, adminDSN: server.adminDSN.overriding(database: name),
                            tcpAdminDSN: server.tcpAdminDSN.overriding(database: name), server: self)
    }

    /// Drops a database made by `makeDatabase` (forcing other sessions off it).
    public func dropDatabase(_ name: String) async throws {
        guard let pool = adminPool.withLock({ $0 }) else { return }
        try await pool.withConnection { try await $0.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    /// Stops and starts a server this process started (fast shutdown: sessions are terminated).
    public func restart() async throws {
        let server = try await server()
        guard let directory = server.dataDirectory else {
            throw TestPostgresError(message: "cannot restart an external server (DATABASE_URL)")
        }
        _ = try await Self.script(["restart", directory])
    }

    /// Stops a server this process started and removes its directory.
    public func stop() async {
        guard let server = try? await server(), let directory = server.dataDirectory else { return }
        if let pool = adminPool.withLock({ p -> PostgresPool? in defer { p = nil }; return p }) { await pool.close() }
        _ = try? await Self.script(["stop", directory])
        TestPostgresCleanup.forget(directory)
    }

    // MARK: starting

    private static func launch(external: String?) async throws -> Server {
        if let external {
            let dsn = try PostgresDSN(external)
            return Server(adminDSN: dsn, tcpAdminDSN: dsn, port: dsn.port, dataDirectory: nil)
        }
        let directory = "/tmp/nimbus-pg-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        TestPostgresCleanup.remember(directory)
        let output = try await script(["start", directory, "--watch-pid", String(getpid())])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let dsn = values["DSN"], let tcp = values["TCP_DSN"] else {
            throw TestPostgresError(message: "test-postgres.sh printed no DSN")
        }
        return Server(adminDSN: try PostgresDSN(dsn), tcpAdminDSN: try PostgresDSN(tcp),
                      port: values["PORT"].flatMap(Int.init), dataDirectory: directory)
    }

    /// `scripts/test-postgres.sh`, found from this file's place in the repository
    /// (or `NIMBUS_REPO_ROOT`). Runs off the cooperative pool: it waits for a child process.
    static func script(_ arguments: [String]) async throws -> String {
        let root = ProcessInfo.processInfo.environment["NIMBUS_REPO_ROOT"] ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let path = root + "/scripts/test-postgres.sh"
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runScript(path, arguments) })
            }
        }
    }

    /// posix_spawn + waitpid (Foundation's Process.waitUntilExit can hang off the main thread).
    private static func runScript(_ path: String, _ arguments: [String]) throws -> String {
        let base = NSTemporaryDirectory() + "nimbus-test-postgres-\(UUID().uuidString)"
        let outPath = base + ".out", errPath = base + ".err"
        defer { unlink(outPath); unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ["/bin/bash", path] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw TestPostgresError(message: "cannot run \(path): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw TestPostgresError(message: "\(path) \(arguments.first ?? "") failed (status \(status)): \(errors)")
        }
        return output
    }
}

/// A database of its own for one test.
public struct TestDatabase: Sendable {
    public let name: String
    /// Superuser DSN on the unix socket.
    public let adminDSN: PostgresDSN
    /// Superuser DSN over TCP on 127.0.0.1 (for clients that need a host and port).
    public let tcpAdminDSN: PostgresDSN
    public let server: TestPostgres

    /// A pool on this database as the superuser.
    public func makePool(maxConnections: Int = 4, configure: (inout PostgresConfiguration) -> Void = { _ in }) throws -> PostgresPool {
        var configuration = PostgresConfiguration(dsn: adminDSN)
        configuration.minConnections = 0
        configuration.maxConnections = maxConnections
        configure(&configuration)
        return try PostgresPool(configuration: configuration, name: name)
    }

    /// Drops the database. Optional: the server's directory goes away at exit anyway.
    public func drop() async throws { try await server.dropDatabase(name) }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Stops every server this process started when it exits normally. (A crash is covered by the
/// watchdog that `test-postgres.sh start --watch-pid` leaves behind.)
enum TestPostgresCleanup {
    private static let directories = Mutex<[String]>([])
    private static let registered = Mutex(false)

    static func remember(_ directory: String) {
        directories.withLock { $0.append(directory) }
        let first = registered.withLock { r -> Bool in defer { r = true }; return !r }
        if first { atexit { TestPostgresCleanup.stopAll() } }
    }

    static func forget(_ directory: String) { directories.withLock { $0.removeAll { $0 == directory } } }

    /// Immediate shutdown by signal (no child processes at exit), then the directory goes.
    static func stopAll() {
        for directory in directories.withLock({ $0 }) {
            if let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
               let line = text.split(separator: "\n").first, let pid = pid_t(line.trimmingCharacters(in: .whitespaces)) {
                kill(pid, SIGQUIT)
                for _ in 0..<50 where kill(pid, 0) == 0 { usleep(20_000) }
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
