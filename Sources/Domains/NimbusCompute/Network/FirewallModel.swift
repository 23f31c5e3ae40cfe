/// What the host's packet filter must enforce, as compute knows it: the bridge of every VPC
/// network (any tenant) on this host. Sorted and de-duplicated, so equal models render equal
/// rulesets.
public struct FirewallModel: Equatable, Sendable {
    public let vpcBridges: [String]

    public init(vpcBridges: some Sequence<String>) {
        self.vpcBridges = Array(Set(vpcBridges)).sorted()
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
