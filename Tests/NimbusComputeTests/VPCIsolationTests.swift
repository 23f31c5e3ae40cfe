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

    /// REACHED or BLOCKED: `command` (exit status) run inside a container.
    /// `env --default-signal`: the test process runs with signals blocked, and a probe would
    /// inherit that (nc -w and ping -W time out by SIGALRM). The verdict is the last line.
    func probe(_ container: String, _ command: String) throws -> String {
        try Shell.check(["env", "--default-signal", TestPodman.repoRoot + "/scripts/podman.sh", "podman", "exec", container,
                         "sh", "-c", "if \(command) >/dev/null 2>&1; then echo REACHED; else echo BLOCKED; fi"], environment: podman.environment)
            .split(separator: "\n").last.map(String.init) ?? ""  // podman may warn on stderr first (syslog)
    }

    /// Security groups inside one VPC, with real packets: a port opened to a group is reachable
    /// from its members only, ICMP follows its rule, a revoke cuts new connections at once,
    /// egress rules restrict what an instance sends.
    @Test func securityGroupsDecideTrafficInsideAVPC() async throws {
        try await withNetwork { network in
            let firewall = HostFirewall(table: "nimbus_sgtest_\(getpid())")
            do {
                let server = try await run(["httpd", "-f", "-p", "8080", "-h", "/www"], network: network)
                let member = try await run(["sleep", "600"], network: network)
                let outsider = try await run(["sleep", "600"], network: network)
                func address(_ id: String) async throws -> String { try #require(try await engine.inspectContainer(id).networks[network]?.ipAddress) }
                let (serverIP, memberIP) = (try await address(server), try await address(member))
                let http = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \(serverIP) 8080 | grep -q hello"
                let ping = "ping -c 1 -W 1 \(serverIP)"
                let bridge = try bridge(network)
                let group = UUID().uuidString, serverID = UUID().uuidString, memberID = UUID().uuidString
                func apply(server ingress: [FirewallRule], member egress: [FirewallRule]? = nil) async throws -> Duration {
                    var guarded = [GuardedInstance(id: serverID, address: serverIP, ingress: ingress, egress: [FirewallRule(.all, peer: .cidr("0.0.0.0/0"))])]
                    if let egress { guarded.append(GuardedInstance(id: memberID, address: memberIP, ingress: [], egress: egress)) }
                    let started = ContinuousClock.now
                    _ = try await firewall.sync(FirewallModel(vpcBridges: [bridge], groups: [SecurityGroupMembers(id: group, addresses: [memberIP])], guarded: guarded))
                    return ContinuousClock.now - started
                }
                #expect(try probe(outsider, ping) == "REACHED", "without security groups the VPC is open inside")

                _ = try await apply(server: [FirewallRule(.tcp, ports: 8080...8080, peer: .group(group))])
                #expect(try probe(member, http) == "REACHED")
                #expect(try probe(outsider, http) == "BLOCKED", "not a member of the group")
                #expect(try probe(member, ping) == "BLOCKED", "only tcp 8080 is open")

                _ = try await apply(server: [FirewallRule(.tcp, ports: 8080...8080, peer: .group(group)), FirewallRule(.icmp, peer: .group(group))])
                #expect(try probe(member, ping) == "REACHED")
                #expect(try probe(outsider, ping) == "BLOCKED")

                let revoke = try await apply(server: [FirewallRule(.icmp, peer: .group(group))])
                #expect(revoke < .seconds(1))
                #expect(try probe(member, http) == "BLOCKED", "the revoke applies to the next connection")

                _ = try await apply(server: [FirewallRule(.all, peer: .group(group))], member: [FirewallRule(.tcp, ports: 8080...8080, peer: .cidr(serverIP + "/32"))])
                #expect(try probe(member, http) == "REACHED")
                #expect(try probe(member, ping) == "BLOCKED", "the member's egress allows tcp 8080 only")
                #expect(try probe(member, "ping -c 1 -W 1 \(try await address(outsider))") == "BLOCKED", "nor anything to other instances")
            } catch {
                try? await firewall.remove()
                throw error
            }
            try await firewall.remove()
        }
    }
}
