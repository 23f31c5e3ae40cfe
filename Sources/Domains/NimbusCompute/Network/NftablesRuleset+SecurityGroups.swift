import Foundation

/// Security groups in the Nimbus table. After the isolation drops, the forward chain accepts
/// replies (`ct state established,related`), then sends a packet from a guarded instance's
/// address to its egress chain and one to a guarded address to its ingress chain (verdict
/// maps: one lookup each). An egress chain returns on the first rule that allows the packet and
/// drops otherwise; an ingress chain accepts ports published on the host (`ct status
/// dnat`, arriving from outside the VPC bridges) and what a rule allows, and drops the rest. A group named as a peer is a set of its
/// members' addresses, so a rule matches the group however many members it has.
///
/// Traffic between two instances of one VPC is bridged, and reaches this hook through
/// br_netfilter (`net.bridge.bridge-nf-call-iptables=1`), with conntrack as for routed traffic.
/// VPCs are IPv4: a guarded instance's IPv6 traffic is dropped so it cannot go around its rules.
extension NftablesRuleset {
    static func securityGroupSets(_ model: FirewallModel) throws -> String {
        var text = ""
        for group in model.groups {
            let name = try setName(group: group.id)
            for address in group.addresses { try checkAddress(address) }
            text += "\tset \(name) {\n\t\ttype ipv4_addr\n"
            if !group.addresses.isEmpty { text += "\t\telements = { " + group.addresses.joined(separator: ", ") + " }\n" }
            text += "\t}\n"
        }
        return text
    }

    static func securityGroupDispatch(_ model: FirewallModel) throws -> String {
        guard !model.guarded.isEmpty else { return "" }
        for instance in model.guarded { try checkAddress(instance.address) }
        var text = ""
        if !model.vpcBridges.isEmpty {
            text += "\t\tmeta nfproto ipv6 iifname { " + model.vpcBridges.map { "\"\($0)\"" }.joined(separator: ", ") + " } drop comment \"VPCs are IPv4\"\n"
        }
        text += "\t\tct state established,related accept\n"
        text += "\t\tct state invalid drop\n"
        text += "\t\tip saddr vmap { " + (try model.guarded.map { "\($0.address) : jump \(try chainName("out", $0.id))" }.joined(separator: ", ")) + " }\n"
        text += "\t\tip daddr vmap { " + (try model.guarded.map { "\($0.address) : jump \(try chainName("in", $0.id))" }.joined(separator: ", ")) + " }\n"
        return text
    }

    static func securityGroupChains(_ model: FirewallModel) throws -> String {
        let known = Set(model.groups.map(\.id))
        var text = ""
        for instance in model.guarded {
            text += "\tchain \(try chainName("out", instance.id)) {\n"
            for rule in instance.egress {
                text += "\t\t" + (try match(rule, peerField: "daddr", known: known)) + "return\n"
            }
            text += "\t\tdrop comment \"egress not allowed by the instance's security groups\"\n\t}\n"
            text += "\tchain \(try chainName("in", instance.id)) {\n"
            text += "\t\tiifname != \"nv*\" ct status dnat accept comment \"ports published on the host\"\n"
            for rule in instance.ingress {
                text += "\t\t" + (try match(rule, peerField: "saddr", known: known)) + "accept\n"
            }
            text += "\t\tdrop comment \"ingress not allowed by the instance's security groups\"\n\t}\n"
        }
        return text
    }

    /// The rule's conditions, each followed by a space (empty: every packet).
    static func match(_ rule: FirewallRule, peerField: String, known: Set<String>) throws -> String {
        var text = ""
        switch rule.peer {
        case .cidr(let cidr):
            guard let network = IPv4CIDR(cidr) else { throw FirewallError("render the ruleset", "\"\(cidr)\" is not an IPv4 CIDR") }
            if network.prefixLength > 0 { text += "ip \(peerField) \(network) " } else { text += "meta nfproto ipv4 " }
        case .group(let id):
            guard known.contains(id.lowercased()) else { throw FirewallError("render the ruleset", "a rule names group \(id), which the model does not list") }
            text += "ip \(peerField) @\(try setName(group: id)) "
        }
        switch rule.proto {
        case .tcp, .udp:
            text += "meta l4proto \(rule.proto.rawValue) "
            if let ports = rule.ports {
                guard ports.lowerBound >= 1, ports.upperBound <= 65535 else { throw FirewallError("render the ruleset", "ports \(ports) are not within 1–65535") }
                text += ports.lowerBound == ports.upperBound ? "th dport \(ports.lowerBound) " : "th dport \(ports.lowerBound)-\(ports.upperBound) "
            }
        case .icmp:
            text += "meta l4proto icmp "
        case .all:
            break
        }
        return text
    }

    /// `g_` / `in_` / `out_` and the UUID's 32 hex digits.
    static func setName(group id: String) throws -> String { "g_" + (try hex(id)) }

    static func chainName(_ direction: String, _ id: String) throws -> String { direction + "_" + (try hex(id)) }

    private static func hex(_ id: String) throws -> String {
        let hex = id.lowercased().replacingOccurrences(of: "-", with: "")
        guard hex.utf8.count == 32, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw FirewallError("render the ruleset", "\"\(id)\" is not a UUID")
        }
        return hex
    }

    static func checkAddress(_ address: String) throws {
        guard IPv4CIDR(address + "/32") != nil else { throw FirewallError("render the ruleset", "\"\(address)\" is not an IPv4 address") }
    }
}
