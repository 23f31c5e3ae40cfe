/// Renders the Nimbus nftables table from a `FirewallModel`: a pure function, so the rules are
/// tested without a kernel.
///
/// The table's forward chain hooks at `filter - 10`, before the filter tables of iptables-nft
/// and netavark: in nftables a drop in any base chain is final whatever another table accepts,
/// so the order in which other software inserts its rules no longer matters.
///
/// Routing between two VPC bridges is dropped (IPv4 and IPv6: family inet). Traffic inside one
/// VPC is bridged; with br_netfilter loaded it passes this hook too, with the same bridge as
/// input and output, and stays allowed. Each known bridge gets a `from_` and a `to_` chain
/// (reached through verdict maps, one lookup per packet) that drop any other `nv*` bridge as
/// the far end; bridges of other deployments on the host are left to their own tables.
/// Security groups follow (NftablesRuleset+SecurityGroups.swift).
public enum NftablesRuleset {
    static let bridgePrefix = "nv"

    /// One `nft -f` transaction that replaces the table's contents atomically: create it (a
    /// no-op when present), delete it, define it anew. Nothing passes unfiltered in between.
    public static func script(table: String, model: FirewallModel) throws -> String {
        try checkName(table: table)
        return "table inet \(table) {}\ndelete table inet \(table)\n" + (try definition(table: table, model: model))
    }

    /// The table as `nft -f` reads it.
    public static func definition(table: String, model: FirewallModel) throws -> String {
        try checkName(table: table)
        for bridge in model.vpcBridges { try checkName(bridge: bridge) }
        var text = "table inet \(table) {\n"
        text += "\tcomment \"nimbus-compute: VPC isolation; changes here are reverted\"\n"
        text += try securityGroupSets(model)
        text += "\tchain forward {\n"
        text += "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
        if !model.vpcBridges.isEmpty {
            text += "\t\tiifname vmap { " + model.vpcBridges.map { "\"\($0)\" : jump from_\($0)" }.joined(separator: ", ") + " }\n"
            text += "\t\toifname vmap { " + model.vpcBridges.map { "\"\($0)\" : jump to_\($0)" }.joined(separator: ", ") + " }\n"
        }
        text += try securityGroupDispatch(model)
        text += "\t}\n"
        for bridge in model.vpcBridges {
            text += "\tchain from_\(bridge) {\n"
            text += "\t\toifname \"\(bridgePrefix)*\" oifname != \"\(bridge)\" drop comment \"no routing between VPC networks\"\n"
            text += "\t}\n"
            text += "\tchain to_\(bridge) {\n"
            text += "\t\tiifname \"\(bridgePrefix)*\" iifname != \"\(bridge)\" drop comment \"no routing between VPC networks\"\n"
            text += "\t}\n"
        }
        text += try securityGroupChains(model)
        text += "}\n"
        return text
    }

    /// Names are spliced into nft syntax: only what compute itself generates is accepted.
    static func checkName(table: String) throws {
        guard (1...32).contains(table.utf8.count), table.utf8.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "_") }) else {
            throw FirewallError("render the ruleset", "table name \"\(table)\" must be 1–32 of a-z, 0-9, _")
        }
    }

    static func checkName(bridge: String) throws {
        guard bridge.hasPrefix(bridgePrefix), (3...15).contains(bridge.utf8.count), bridge.utf8.allSatisfy(isLowerAlnum) else {
            throw FirewallError("render the ruleset", "VPC bridge name \"\(bridge)\" must be nv followed by a-z, 0-9 (at most 15 characters)")
        }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
