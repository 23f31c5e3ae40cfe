import Foundation
import NimbusContainers

/// A podman API service of the tests' own (scripts/podman.sh in a temporary directory), with
/// the local busybox image built into it. Started once per test process, destroyed at exit.
public struct TestPodman: Sendable {
    public static let repoRoot: String = {
        // Tests/NimbusComputeTests/Support/TestPodman.swift → the repository.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
    public static let image = "localhost/nimbus/busybox"

    public let directory: String
    public var socketPath: String { directory + "/podman.sock" }
    public var environment: [String: String] { ["NIMBUS_PODMAN_DIR": directory] }

    public var runtime: DockerEngineRuntime { DockerEngineRuntime(socket: socketPath, requestTimeout: .seconds(30)) }

    /// Started with a watchdog on this process: a crashed test run leaves nothing behind.
    public func start() throws {
        try Shell.check([Self.repoRoot + "/scripts/podman.sh", "start", "--watch-pid", String(getpid())], environment: environment)
    }

    public func stop() throws {
        try Shell.check([Self.repoRoot + "/scripts/podman.sh", "stop"], environment: environment)
    }

    public func destroy() {
        _ = try? Shell.run([Self.repoRoot + "/scripts/podman.sh", "destroy"], environment: environment)
    }

    public func buildImages() throws {
        try Shell.check([Self.repoRoot + "/scripts/build-images.sh"], environment: environment)
    }

    /// The podman CLI on this instance's storage: what an operator does behind Nimbus's back.
    @discardableResult
    public func cli(_ arguments: String...) throws -> String {
        try Shell.check([Self.repoRoot + "/scripts/podman.sh", "podman"] + arguments, environment: environment)
    }

    public static func temporary(_ purpose: String) -> TestPodman {
        TestPodman(directory: NSTemporaryDirectory() + "nimbus-\(purpose)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    // MARK: the shared instance

    private static let sharedInstance = TestPodman.temporary("compute-tests")
    private static let sharedStart = Task<TestPodman, any Error> {
        let podman = sharedInstance
        atexit { TestPodman.sharedInstance.destroy() }
        try podman.start()
        try podman.buildImages()
        return podman
    }

    /// The process-wide test engine, started on first use.
    public static func shared() async throws -> TestPodman {
        try await sharedStart.value
    }
}

/// Names and addresses that do not collide with other test runs on the same machine.
public enum Unique {
    public static func name(_ prefix: String) -> String {
        "\(prefix)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// A /24 in 10.100.0.0–10.239.255.0: clear of podman's 10.88/16 default and of the
    /// host's own addresses.
    public static func subnet() -> String {
        "10.\(Int.random(in: 100...239)).\(Int.random(in: 0...255)).0/24"
    }

    /// A host bridge name (≤ 15 characters), nv… like the service's VPC bridges (the isolation
    /// table of NimbusCompute/Network covers nv* bridges).
    public static func bridge() -> String {
        "nvt" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }
}

/// curl against a port published on 127.0.0.1 (never any other address).
public enum Loopback {
    public static func get(port: Int, path: String = "/") throws -> (status: Int32, body: String) {
        let result = try Shell.run(["curl", "-s", "-S", "-m", "3", "http://127.0.0.1:\(port)\(path)"])
        return (result.status, result.output)
    }
}

public extension ContainerRuntime {
    /// Polls until `predicate` holds for the container (or `timeout` passes).
    public func waitFor(
        _ id: String, timeout: Duration = .seconds(15), _ predicate: (ContainerDetails) -> Bool
    ) async throws -> ContainerDetails {
        let deadline = ContinuousClock.now + timeout
        while true {
            let details = try await inspectContainer(id)
            if predicate(details) || ContinuousClock.now >= deadline { return details }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// All log output of a container as one string.
    public func collectedLogs(_ id: String, options: LogOptions = LogOptions()) async throws -> String {
        var text = ""
        for try await chunk in logs(id, options: options) {
            text += String(decoding: chunk.data, as: UTF8.self)
        }
        return text
    }
}

/// Retries `body` until it returns true (e.g. a server inside a fresh container starting up).
public func eventually(timeout: Duration = .seconds(10), _ body: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await body() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try await body()
}
