import Foundation
import NimbusRPCCore
import NimbusTestSupport
import Testing
@testable import NimbusContainers

/// Against a real podman API service (scripts/podman.sh in a temporary directory).
@Suite(.serialized) struct DockerEngineRuntimeTests {
    let podman: TestPodman
    let engine: DockerEngineRuntime

    init() async throws {
        podman = try await TestPodman.shared()
        engine = podman.runtime
    }

    /// A network of the test's own, removed with its containers when `body` ends.
    func withNetwork<T>(_ body: (String) async throws -> T) async throws -> T {
        let name = Unique.name("nbt-net")
        _ = try await engine.createNetwork(NetworkSpec(name: name, subnet: Unique.subnet(), labels: ["nimbus.test": "true"], bridgeName: Unique.bridge()))
        do {
            let result = try await body(name)
            try await removeNetworkAndContainers(name)
            return result
        } catch {
            try? await removeNetworkAndContainers(name)
            throw error
        }
    }

    func removeNetworkAndContainers(_ network: String) async throws {
        for container in try await engine.listContainers(labels: [.equals("nimbus.test.network", network)]) {
            try await engine.removeContainer(container.id, force: true)
        }
        try await engine.removeNetwork(network)
    }

    func run(_ command: [String], network: String, ports: [PortBinding] = [], resources: ContainerResources = .init()) async throws -> String {
        let id = try await engine.createContainer(ContainerSpec(
            name: Unique.name("nbt"), image: TestPodman.image, command: command,
            environment: ["NIMBUS_TEST": "1"], labels: ["nimbus.test": "true", "nimbus.test.network": network],
            resources: resources, ports: ports, network: network))
        try await engine.startContainer(id)
        return id
    }

    @Test func answersPingAndVersion() async throws {
        try await engine.ping()
        let version = try await engine.version()
        #expect(version.apiVersion.hasPrefix("1."))
        #expect(!version.version.isEmpty)
    }

    @Test func servesHTTPOnALoopbackPortThroughStopAndStart() async throws {
        try await withNetwork { network in
            let id = try await run(
                ["httpd", "-f", "-p", "8080", "-h", "/www"], network: network,
                ports: [PortBinding(containerPort: 8080)],
                resources: ContainerResources(vcpus: 0.5, memoryMiB: 64))
            let details = try await engine.inspectContainer(id)
            #expect(details.state.status == .running)
            #expect(details.resources == ContainerResources(nanoCPUs: 500_000_000, memoryBytes: 64 * 1024 * 1024))
            #expect(details.labels["nimbus.test.network"] == network)
            let port = try #require(details.ports.first)
            #expect(port.hostIP == "127.0.0.1")
            #expect(port.containerPort == 8080)

            #expect(await eventually { (try? Loopback.get(port: port.hostPort).body.contains("hello from nimbus busybox")) == true })

            try await engine.stopContainer(id, timeout: .seconds(2))
            let stopped = try await engine.inspectContainer(id)
            #expect(!stopped.state.running)
            #expect(try Loopback.get(port: port.hostPort).status != 0, "a stopped instance's port refuses")
            try await engine.stopContainer(id, timeout: .seconds(1))  // stopping again is fine

            try await engine.startContainer(id)
            let restarted = try await engine.inspectContainer(id)
            let newPort = try #require(restarted.ports.first).hostPort
            #expect(await eventually { (try? Loopback.get(port: newPort).body.contains("hello from nimbus busybox")) == true })

            try await engine.removeContainer(id, force: true)
            await #expect(throws: ContainerRuntimeError.self) { try await engine.inspectContainer(id) }
            let listed = try await engine.listContainers(labels: [.equals("nimbus.test.network", network)])
            #expect(listed.isEmpty, "the engine no longer lists a removed container")
        }
    }

    @Test func findsItsContainersByLabel() async throws {
        try await withNetwork { network in
            let id = try await run(["sleep", "60"], network: network)
            let mine = try await engine.listContainers(labels: [.equals("nimbus.test.network", network), .exists("nimbus.test")])
            #expect(mine.map(\.id) == [id])
            #expect(mine.first?.status == .running)
            let none = try await engine.listContainers(labels: [.equals("nimbus.test.network", "no-such-network")])
            #expect(none.isEmpty)
        }
    }

    @Test func streamsLogsSplitIntoStdoutAndStderr() async throws {
        try await withNetwork { network in
            let id = try await run(
                ["sh", "-c", "echo out-line; echo err-line >&2; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"],
                network: network)
            _ = await eventually { ((try? await engine.collectedLogs(id)) ?? "").contains("tick1") }

            var stdout = "", stderr = ""
            for try await chunk in engine.logs(id, options: LogOptions()) {
                let text = String(decoding: chunk.data, as: UTF8.self)
                if chunk.stream == .stdout { stdout += text } else { stderr += text }
            }
            #expect(stdout.hasPrefix("out-line\n"))
            #expect(stderr == "err-line\n")

            let tail = try await engine.collectedLogs(id, options: LogOptions(tail: 1))
            #expect(tail.split(separator: "\n").count == 1)

            // Following: new lines keep arriving; leaving the loop ends the stream.
            let started = ContinuousClock.now
            var seen: [String] = []
            for try await chunk in engine.logs(id, options: LogOptions(follow: true, tail: 0)) {
                seen += String(decoding: chunk.data, as: UTF8.self).split(separator: "\n").map(String.init)
                if seen.count >= 3 { break }
            }
            #expect(seen.allSatisfy { $0.hasPrefix("tick") })
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// Transfers run on an event loop: twenty followed log streams open at once add no
    /// threads (a thread per transfer would add twenty), and all of them keep delivering.
    @Test func followedStreamsShareTheLoopInsteadOfAThreadEach() async throws {
        try await withNetwork { network in
            let id = try await run(["sh", "-c", "while true; do echo tick; sleep 0.2; done"], network: network)
            try await engine.ping()  // the client's loop thread exists before the count
            func threads() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0 }
            let before = threads()
            let streams = 20
            let engine = self.engine
            let (received, during) = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<streams {
                    group.addTask {
                        var lines = 0
                        for try await chunk in engine.logs(id, options: LogOptions(follow: true, tail: 0)) {
                            lines += String(decoding: chunk.data, as: UTF8.self).split(separator: "\n").count
                            if lines >= 3 { break }
                        }
                        return 1
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let during = threads()
                return (try await group.reduce(0, +), during)
            }
            #expect(received == streams)
            #expect(during - before < 5, "threads before \(before), with \(streams) streams open \(during)")
        }
    }

    @Test func showsAContainerKilledBehindItsBackAsExited() async throws {
        try await withNetwork { network in
            let id = try await run(["sleep", "300"], network: network)
            try podman.cli("kill", id)
            let details = try await engine.waitFor(id) { !$0.state.running }
            #expect(details.state.status == .exited)
            #expect(details.state.exitCode == 137)
            #expect(details.state.finishedAt != nil)
            let listed = try await engine.listContainers(labels: [.equals("nimbus.test.network", network)])
            #expect(listed.first?.status == .exited)
            await #expect(throws: ContainerRuntimeError.self) { try await engine.killContainer(id, signal: "KILL") }
        }
    }

    @Test func reportsStats() async throws {
        try await withNetwork { network in
            let id = try await run(["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 60"], network: network,
                                   resources: ContainerResources(vcpus: 1, memoryMiB: 32))
            try await Task.sleep(for: .milliseconds(300))
            let first = try await engine.stats(id)
            try await Task.sleep(for: .milliseconds(300))
            let second = try await engine.stats(id)
            #expect(second.memoryLimitBytes == 32 * 1024 * 1024)
            #expect(second.memoryUsageBytes > 0)
            #expect(second.cpuTotalNanos > 0)
            #expect(second.cpuTotalNanos >= first.cpuTotalNanos)
            #expect(second.pids >= 1)
        }
    }

    // Keeping networks apart is Nimbus's own host firewall: NimbusComputeTests/VPCIsolationTests.

    @Test func createsListsAndRemovesNetworks() async throws {
        let name = Unique.name("nbt-net")
        let subnet = Unique.subnet()
        _ = try await engine.createNetwork(NetworkSpec(name: name, subnet: subnet, labels: ["nimbus.vpc": name]))
        let listed = try await engine.listNetworks(labels: [.equals("nimbus.vpc", name)])
        #expect(listed.map(\.name) == [name])
        #expect(listed.first?.subnets == [subnet])
        #expect(try await engine.inspectNetwork(name).name == name)
        // Podman's compat API does not echo options back; its network file shows isolation on.
        let file = try String(contentsOfFile: podman.directory + "/networks/\(name).json", encoding: .utf8)
        #expect(file.contains("\"isolate\": \"true\""))
        await #expect(throws: ContainerRuntimeError.self) {
            try await engine.createNetwork(NetworkSpec(name: name, subnet: Unique.subnet()))
        }
        try await engine.removeNetwork(name)
        #expect(try await engine.listNetworks(labels: [.equals("nimbus.vpc", name)]).isEmpty)
        let error = await #expect(throws: ContainerRuntimeError.self) { try await engine.removeNetwork(name) }
        #expect(error?.code == .notFound)
    }

    @Test func importsListsAndRemovesImages() async throws {
        let work = NSTemporaryDirectory() + Unique.name("nbt-rootfs")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/root/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: work + "/root/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: work + "/root/bin/sh", withDestinationPath: "busybox")
        try FileManager.default.createSymbolicLink(atPath: work + "/root/bin/echo", withDestinationPath: "busybox")
        try Shell.check(["tar", "-C", work + "/root", "-czf", work + "/rootfs.tar.gz", "."])

        let reference = "localhost/nimbus/\(Unique.name("nbt-import")):v1"
        let imageID = try await engine.importImage(reference: reference, tarballPath: work + "/rootfs.tar.gz")
        #expect(imageID.hasPrefix("sha256:"))
        let images = try await engine.listImages()
        #expect(images.contains { $0.tags.contains(reference) })
        #expect(try await engine.inspectImage(reference).id == imageID)

        try await withNetwork { network in
            let id = try await engine.createContainer(ContainerSpec(
                image: reference, command: ["/bin/echo", "from the imported image"],
                labels: ["nimbus.test.network": network], network: network))
            try await engine.startContainer(id)
            _ = try await engine.waitFor(id) { !$0.state.running }
            #expect(try await engine.collectedLogs(id) == "from the imported image\n")

            let inUse = await #expect(throws: ContainerRuntimeError.self) { try await engine.removeImage(reference, force: false) }
            #expect(inUse?.code == .conflict)
        }
        try await engine.removeImage(reference, force: false)
        let gone = await #expect(throws: ContainerRuntimeError.self) { try await engine.inspectImage(reference) }
        #expect(gone?.code == .notFound)

        let bad = await #expect(throws: ContainerRuntimeError.self) {
            try await engine.importImage(reference: "Not A Reference", tarballPath: work + "/rootfs.tar.gz")
        }
        #expect(bad?.code == .invalidRequest)
    }

    @Test func reportsMissingObjectsAsNotFound() async throws {
        let missingContainer = await #expect(throws: ContainerRuntimeError.self) { try await engine.inspectContainer("nimbus-no-such-container") }
        #expect(missingContainer?.code == .notFound)
        let missingImage = await #expect(throws: ContainerRuntimeError.self) {
            try await engine.createContainer(ContainerSpec(image: "localhost/nimbus/no-such-image:v0"))
        }
        #expect(missingImage?.code == .notFound)
    }

    @Test func streamingLogsOfAMissingContainerFails() async throws {
        let error = await #expect(throws: ContainerRuntimeError.self) {
            for try await _ in engine.logs("nimbus-no-such-container", options: LogOptions(follow: true)) {}
        }
        #expect(error?.code == .notFound)
    }
}

/// The engine going away: a distinct error the service turns into UNAVAILABLE.
@Suite(.serialized) struct EngineUnreachableTests {
    @Test func aMissingSocketIsUnreachable() async throws {
        let engine = DockerEngineRuntime(socket: "unix://" + NSTemporaryDirectory() + "nimbus-no-such-engine.sock")
        let error = await #expect(throws: ContainerRuntimeError.self) { try await engine.ping() }
        #expect(error?.code == .engineUnreachable)
        #expect(error?.rpcError.code == .unavailable)
    }

    @Test func aStoppedEngineIsUnreachable() async throws {
        let podman = TestPodman.temporary("compute-stop")
        defer { podman.destroy() }
        try podman.start()
        let engine = podman.runtime
        try await engine.ping()
        try podman.stop()
        let ping = await #expect(throws: ContainerRuntimeError.self) { try await engine.ping() }
        #expect(ping?.code == .engineUnreachable)
        let create = await #expect(throws: ContainerRuntimeError.self) {
            try await engine.createContainer(ContainerSpec(image: TestPodman.image))
        }
        #expect(create?.code == .engineUnreachable)
        let logs = await #expect(throws: ContainerRuntimeError.self) {
            for try await _ in engine.logs("anything", options: LogOptions(follow: true)) {}
        }
        #expect(logs?.code == .engineUnreachable)
    }
}
