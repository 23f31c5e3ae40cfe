/// What the host's packet filter must enforce, as compute knows it: the bridge of every VPC
/// network (any tenant) on this host, and for instances in security groups the groups'
/// members and each instance's ingress and egress rules. Sorted and de-duplicated, so equal
/// models render equal rulesets.
public struct FirewallModel: Equatable, Sendable {
    public let vpcBridges: [String]
    /// Every group a rule names as its peer, with its members' addresses.
    public let groups: [SecurityGroupMembers]
    /// Instances whose traffic the groups they are in decide (others are only kept in their VPC).
    public let guarded: [GuardedInstance]

    public init(vpcBridges: some Sequence<String>, groups: [SecurityGroupMembers] = [], guarded: [GuardedInstance] = []) {
        self.vpcBridges = Array(Set(vpcBridges)).sorted()
        self.groups = groups.sorted { $0.id < $1.id }
        self.guarded = guarded.sorted { $0.id < $1.id }
    }
}

/// A security group as a peer: the private addresses of the instances in it.
public struct SecurityGroupMembers: Equatable, Sendable {
    public let id: String
    public let addresses: [String]

    public init(id: String, addresses: some Sequence<String>) {
        self.id = id.lowercased()
        self.addresses = Array(Set(addresses)).sorted()
    }
}

/// An instance under security groups: its address on its VPC bridge and the union of its
/// groups' rules. Ingress allows what any rule allows (plus replies and published ports);
/// egress likewise; everything else is dropped.
public struct GuardedInstance: Equatable, Sendable {
    public let id: String
    public let address: String
    public let ingress: [FirewallRule]
    public let egress: [FirewallRule]

    public init(id: String, address: String, ingress: [FirewallRule], egress: [FirewallRule]) {
        self.id = id.lowercased()
        self.address = address
        self.ingress = Array(Set(ingress)).sorted { $0.sortKey < $1.sortKey }
        self.egress = Array(Set(egress)).sorted { $0.sortKey < $1.sortKey }
    }
}

/// One allow rule: protocol, destination port range (tcp/udp), and the peer (the source of
/// ingress, the destination of egress): a CIDR or a security group.
public struct FirewallRule: Hashable, Sendable {
    public enum IPProtocol: String, Sendable, CaseIterable { case tcp, udp, icmp, all }
    public enum Peer: Hashable, Sendable {
        case cidr(String)
        case group(String)
    }

    public let proto: IPProtocol
    public let ports: ClosedRange<Int>?
    public let peer: Peer

    public init(_ proto: IPProtocol, ports: ClosedRange<Int>? = nil, peer: Peer) {
        self.proto = proto
        self.ports = ports
        self.peer = peer
    }

    var sortKey: String {
        let peerText = switch peer {
        case .cidr(let cidr): "c" + cidr
        case .group(let id): "g" + id
        }
        return "\(proto.rawValue) \(ports.map { "\($0.lowerBound)-\($0.upperBound)" } ?? "") \(peerText)"
    }
}

/// A failed firewall step, with the command and what nft said.
public struct FirewallError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "firewall: \(operation): \(message)" }
}
