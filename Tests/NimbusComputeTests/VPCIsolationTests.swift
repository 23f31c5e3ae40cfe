import Foundation
import NimbusContainers
import NimbusTestSupport
import Testing
@testable import NimbusCompute

/// The firewall compute applies on the host, against real podman networks and packets.
@Suite(.serialized) struct VPCIsolationTests {
    let podman: TestPodman
    let engine: DockerEngineRuntime

    init() async throws {
        podman = try await TestPodman.shared()
        engine = podman.runtime
    }

    /// A network (nv… bridge) of the test's own, removed with its containers when `body` ends.
    func withNetwork<T>(_ body: (String) async throws -> T) async throws -> T {
        let name = Unique.name("nbt-vpc")
        _ = try await engine.createNetwork(NetworkSpec(name: name, subnet: Unique.subnet(), labels: ["nimbus.test": "true"],
                                                       isolated: true, bridgeName: Unique.bridge()))
        do {
            let result = try await body(name)
            try await remove(name)
            return result
        } catch {
            try? await remove(name)
            throw error
        }
    }

    func remove(_ network: String) async throws {
        for container in try await engine.listContainers(labels: [.equals("nimbus.test.network", network)], all: true) {
            try await engine.removeContainer(container.id, force: true)
        }
        try await engine.removeNetwork(network)
    }

    /// The host bridge of a network, from podman's network file (the compat API does not echo it).
    func bridge(_ network: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: podman.directory + "/networks/\(network).json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object?["network_interface"] as? String)
    }

    func run(_ command: [String], network: String) async throws -> String {
        let id = try await engine.createContainer(ContainerSpec(
            name: Unique.name("nbt"), image: TestPodman.image, command: command,
            labels: ["nimbus.test": "true", "nimbus.test.network": network], network: network))
        try await engine.startContainer(id)
        return id
    }

    @Test func networksConnectTheirOwnContainersOnly() async throws {
        try await withNetwork { networkA in
            try await withNetwork { networkB in
                let firewall = HostFirewall(table: "nimbus_vpctest_\(getpid())")
                _ = try await firewall.sync(FirewallModel(vpcBridges: try [networkA, networkB].map(bridge)))
                do {
                    let server = try await run(["httpd", "-f", "-p", "8080", "-h", "/www"], network: networkA)
                    let address = try #require(try await engine.inspectContainer(server).networks[networkA]?.ipAddress)
                    let probe = ["sh", "-c", "if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \(address) 8080 2>/dev/null | grep -q 'hello from nimbus'; then echo REACHED; else echo BLOCKED; fi"]
                    // A container on a third network comes and goes first: netavark 1.4 drops its
                    // isolation jump on such a teardown; Nimbus's table does not depend on it.
                    try await withNetwork { networkC in
                        let passing = try await run(["true"], network: networkC)
                        _ = try await engine.waitFor(passing) { !$0.state.running }
                    }
                    let sameNetwork = try await run(probe, network: networkA)
                    let otherNetwork = try await run(probe, network: networkB)
                    _ = try await engine.waitFor(sameNetwork) { !$0.state.running }
                    _ = try await engine.waitFor(otherNetwork) { !$0.state.running }
                    #expect(try await engine.collectedLogs(sameNetwork) == "REACHED\n")
                    #expect(try await engine.collectedLogs(otherNetwork) == "BLOCKED\n", "a container in another network cannot reach the server")
                } catch {
                    try? await firewall.remove()
                    throw error
                }
                try await firewall.remove()
            }
        }
    }
}
