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
