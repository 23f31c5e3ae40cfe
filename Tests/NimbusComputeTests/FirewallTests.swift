import Foundation
import Synchronization
import Testing
@testable import NimbusCompute

/// The nftables ruleset as text, and the apply / check / repair logic against a scripted nft.
@Suite struct NftablesRulesetTests {
    @Test func dropsRoutingBetweenKnownBridgesOnly() throws {
        let text = try NftablesRuleset.definition(table: "nimbus", model: FirewallModel(vpcBridges: ["nvbbb", "nvaaa", "nvbbb"]))
        #expect(text == """
            table inet nimbus {
            \tcomment "nimbus-compute: VPC isolation; changes here are reverted"
            \tchain forward {
            \t\ttype filter hook forward priority filter - 10; policy accept;
            \t\tiifname vmap { "nvaaa" : jump from_nvaaa, "nvbbb" : jump from_nvbbb }
            \t\toifname vmap { "nvaaa" : jump to_nvaaa, "nvbbb" : jump to_nvbbb }
            \t}
            \tchain from_nvaaa {
            \t\toifname "nv*" oifname != "nvaaa" drop comment "no routing between VPC networks"
            \t}
            \tchain to_nvaaa {
            \t\tiifname "nv*" iifname != "nvaaa" drop comment "no routing between VPC networks"
            \t}
            \tchain from_nvbbb {
            \t\toifname "nv*" oifname != "nvbbb" drop comment "no routing between VPC networks"
            \t}
            \tchain to_nvbbb {
            \t\tiifname "nv*" iifname != "nvbbb" drop comment "no routing between VPC networks"
            \t}
            }

            """)
    }

    @Test func withoutVPCsTheChainIsEmpty() throws {
        let text = try NftablesRuleset.definition(table: "nimbus", model: FirewallModel(vpcBridges: []))
        #expect(!text.contains("vmap") && text.contains("priority filter - 10; policy accept;"))
    }

    @Test func replacesTheTableInOneTransaction() throws {
        let script = try NftablesRuleset.script(table: "nimbus_x", model: FirewallModel(vpcBridges: ["nv1"]))
        #expect(script.hasPrefix("table inet nimbus_x {}\ndelete table inet nimbus_x\ntable inet nimbus_x {\n"))
    }

    @Test(arguments: ["nv-1", "eth0", "nv\"; flush ruleset", "nv0123456789abcd", "nvA"])
    func refusesBridgeNamesItDidNotMake(_ bridge: String) {
        #expect(throws: FirewallError.self) { try NftablesRuleset.definition(table: "nimbus", model: FirewallModel(vpcBridges: [bridge])) }
    }

    @Test(arguments: ["", "Nimbus", "nimbus table", String(repeating: "a", count: 33)])
    func refusesOddTableNames(_ table: String) {
        #expect(throws: FirewallError.self) { try NftablesRuleset.script(table: table, model: FirewallModel(vpcBridges: [])) }
    }
}

/// A kernel stand-in: `nft -f` stores the defined table's text, `list` returns it, and the test
/// can remove or alter it as an administrator would.
final class ScriptedNft: NftRunner {
    let table = Mutex<String?>(nil)
    let calls = Mutex<[[String]]>([])
    let failApply = Mutex(false)

    func run(_ arguments: [String], input: String?) async throws -> NftResult {
        calls.withLock { $0.append(arguments) }
        if arguments == ["-f", "-"] {
            if failApply.withLock({ $0 }) { return NftResult(status: 1, error: "Error: Could not process rule: Operation not permitted") }
            let text = input ?? ""
            // The definition follows the create/delete preamble; a bare delete leaves nothing.
            table.withLock { $0 = text.range(of: "{\n").map { String(text[$0.lowerBound...]) } }
            return NftResult(status: 0)
        }
        if let listed = table.withLock({ $0 }) { return NftResult(status: 0, output: "table inet t " + listed) }
        return NftResult(status: 1, error: "Error: No such file or directory\nlist table inet t\n                 ^")
    }

    var applies: Int { calls.withLock { $0.filter { $0 == ["-f", "-"] }.count } }
}

@Suite struct HostFirewallTests {
    let model = FirewallModel(vpcBridges: ["nva", "nvb"])

    @Test func appliesOnceThenOnlyChecks() async throws {
        let nft = ScriptedNft()
        let firewall = HostFirewall(table: "t", nft: nft)
        #expect(try await firewall.sync(model) == .applied)
        #expect(try await firewall.sync(model) == .unchanged)
        #expect(try await firewall.sync(model) == .unchanged)
        #expect(nft.applies == 1)
    }

    @Test func aNewModelIsAppliedNotRepaired() async throws {
        let nft = ScriptedNft()
        let firewall = HostFirewall(table: "t", nft: nft)
        _ = try await firewall.sync(model)
        #expect(try await firewall.sync(FirewallModel(vpcBridges: ["nva"])) == .applied)
        #expect(nft.table.withLock { $0 }?.contains("nvb") == false)
    }

    @Test func repairsARemovedTable() async throws {
        let nft = ScriptedNft()
        let firewall = HostFirewall(table: "t", nft: nft)
        _ = try await firewall.sync(model)
        nft.table.withLock { $0 = nil }
        #expect(try await firewall.sync(model) == .repaired("the table inet t was missing"))
        #expect(try await firewall.sync(model) == .unchanged)
        #expect(nft.table.withLock { $0 }?.contains("from_nvb") == true)
    }

    @Test func repairsAChangedTable() async throws {
        let nft = ScriptedNft()
        let firewall = HostFirewall(table: "t", nft: nft)
        _ = try await firewall.sync(model)
        nft.table.withLock { $0 = $0?.replacingOccurrences(of: "drop", with: "accept") }
        #expect(try await firewall.sync(model) == .repaired("the table inet t had been changed"))
        #expect(nft.table.withLock { $0 }?.contains("accept comment") == false)
    }

    @Test func aFailedApplyIsAnErrorAndRetried() async throws {
        let nft = ScriptedNft()
        nft.failApply.withLock { $0 = true }
        let firewall = HostFirewall(table: "t", nft: nft)
        await #expect(throws: FirewallError.self) { try await firewall.sync(model) }
        nft.failApply.withLock { $0 = false }
        #expect(try await firewall.sync(model) == .applied, "nothing counted as applied after the failure")
    }
}

@Suite struct SecurityGroupRulesetTests {
    static let group = "6f1d2c3b-0000-4000-8000-00000000000a"
    static let instance = "0b1c2d3e-0000-4000-8000-00000000000b"
    static let model = FirewallModel(
        vpcBridges: ["nva"], groups: [SecurityGroupMembers(id: group, addresses: ["10.1.0.3", "10.1.0.2", "10.1.0.3"])],
        guarded: [GuardedInstance(id: instance, address: "10.1.0.2",
                                  ingress: [FirewallRule(.tcp, ports: 8080...8080, peer: .group(group)), FirewallRule(.icmp, peer: .cidr("10.9.0.0/16"))],
                                  egress: [FirewallRule(.all, peer: .cidr("0.0.0.0/0")), FirewallRule(.udp, ports: 53...54, peer: .cidr("10.0.0.0/8"))])])

    @Test func rendersGroupsAsSetsAndInstancesAsChains() throws {
        let text = try NftablesRuleset.definition(table: "nimbus", model: Self.model)
        #expect(text.contains("\tset g_6f1d2c3b00004000800000000000000a {\n\t\ttype ipv4_addr\n\t\telements = { 10.1.0.2, 10.1.0.3 }\n\t}\n"))
        #expect(text.contains("""
            \t\tmeta nfproto ipv6 iifname { "nva" } drop comment "VPCs are IPv4"
            \t\tct state established,related accept
            \t\tct state invalid drop
            \t\tip saddr vmap { 10.1.0.2 : jump out_0b1c2d3e00004000800000000000000b }
            \t\tip daddr vmap { 10.1.0.2 : jump in_0b1c2d3e00004000800000000000000b }
            \t}
            """))
        #expect(text.contains("""
            \tchain out_0b1c2d3e00004000800000000000000b {
            \t\tmeta nfproto ipv4 return
            \t\tip daddr 10.0.0.0/8 meta l4proto udp th dport 53-54 return
            \t\tdrop comment "egress not allowed by the instance's security groups"
            \t}
            \tchain in_0b1c2d3e00004000800000000000000b {
            \t\tiifname != "nv*" ct status dnat accept comment "ports published on the host"
            \t\tip saddr 10.9.0.0/16 meta l4proto icmp accept
            \t\tip saddr @g_6f1d2c3b00004000800000000000000a meta l4proto tcp th dport 8080 accept
            \t\tdrop comment "ingress not allowed by the instance's security groups"
            \t}
            """))
    }

    @Test func equalModelsRenderEqualText() throws {
        let shuffled = FirewallModel(
            vpcBridges: ["nva"], groups: [SecurityGroupMembers(id: Self.group.uppercased(), addresses: ["10.1.0.2", "10.1.0.3"])],
            guarded: [GuardedInstance(id: Self.instance, address: "10.1.0.2",
                                      ingress: [FirewallRule(.icmp, peer: .cidr("10.9.0.0/16")), FirewallRule(.tcp, ports: 8080...8080, peer: .group(Self.group))],
                                      egress: [FirewallRule(.udp, ports: 53...54, peer: .cidr("10.0.0.0/8")), FirewallRule(.all, peer: .cidr("0.0.0.0/0"))])])
        #expect(shuffled == Self.model)
        #expect(try NftablesRuleset.definition(table: "t", model: shuffled) == NftablesRuleset.definition(table: "t", model: Self.model))
    }

    @Test func withoutGuardedInstancesNothingButIsolation() throws {
        let text = try NftablesRuleset.definition(table: "t", model: FirewallModel(vpcBridges: ["nva"]))
        #expect(!text.contains("ct state") && !text.contains("set g_"))
    }

    static func guarded(_ rule: FirewallRule, address: String = "10.1.0.2") -> FirewallModel {
        FirewallModel(vpcBridges: ["nva"], guarded: [GuardedInstance(id: instance, address: address, ingress: [rule], egress: [])])
    }

    @Test func refusesWhatItCannotRenderSafely() {
        for model in [
            Self.guarded(FirewallRule(.tcp, ports: 0...80, peer: .cidr("10.0.0.0/8"))),
            Self.guarded(FirewallRule(.tcp, ports: 1...70000, peer: .cidr("10.0.0.0/8"))),
            Self.guarded(FirewallRule(.tcp, peer: .cidr("10.0.0.1/8"))),
            Self.guarded(FirewallRule(.tcp, peer: .cidr("10.0.0.0/8; flush ruleset"))),
            Self.guarded(FirewallRule(.tcp, peer: .group(Self.group)), address: "10.1.0.2"),  // group not in the model
            Self.guarded(FirewallRule(.all, peer: .cidr("0.0.0.0/0")), address: "10.1.0.256"),
            FirewallModel(vpcBridges: [], guarded: [GuardedInstance(id: "web-1", address: "10.1.0.2", ingress: [], egress: [])]),
        ] {
            #expect(throws: FirewallError.self) { try NftablesRuleset.definition(table: "t", model: model) }
        }
    }
}
