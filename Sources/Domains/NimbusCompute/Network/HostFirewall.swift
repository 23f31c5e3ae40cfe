/// Keeps the Nimbus table in the host's nftables as the model says, and notices when someone
/// else removed or changed it. After each apply it remembers the kernel's own listing of the
/// table; a later listing that differs (or no table at all) is tampering, repaired by applying
/// again. Serialised by the actor: reconcile rounds and VPC changes never interleave.
public actor HostFirewall {
    public enum Outcome: Equatable, Sendable {
        /// The table is as last applied.
        case unchanged
        /// The model changed (or this is the first apply): the table was replaced.
        case applied
        /// The table was missing or differed from what was applied: it was put back.
        case repaired(String)
    }

    public nonisolated let table: String
    let nft: any NftRunner
    private var applied: (model: FirewallModel, listing: String)?

    public init(table: String = "nimbus", nft: any NftRunner = NftCommand()) {
        self.table = table
        self.nft = nft
    }

    public func sync(_ model: FirewallModel) async throws -> Outcome {
        guard let applied, applied.model == model else {
            try await apply(model)
            return .applied
        }
        let current = try await listing()
        if current == applied.listing { return .unchanged }
        try await apply(model)
        return .repaired(current == nil ? "the table inet \(table) was missing" : "the table inet \(table) had been changed")
    }

    /// Removes the table (tests and `NIMBUS_COMPUTE_FIREWALL=off` hosts cleaning up).
    public func remove() async throws {
        let result = try await nft.run(["-f", "-"], input: "table inet \(table) {}\ndelete table inet \(table)\n")
        guard result.status == 0 else { throw FirewallError("delete table inet \(table)", result.error) }
        applied = nil
    }

    private func apply(_ model: FirewallModel) async throws {
        let script = try NftablesRuleset.script(table: table, model: model)
        let result = try await nft.run(["-f", "-"], input: script)
        guard result.status == 0 else { throw FirewallError("apply table inet \(table)", result.error) }
        guard let listing = try await listing() else { throw FirewallError("apply table inet \(table)", "the table is missing right after it was applied") }
        applied = (model, listing)
    }

    /// The kernel's listing without counter values; nil when the table does not exist.
    func listing() async throws -> String? {
        let result = try await nft.run(["-s", "list", "table", "inet", table], input: nil)
        if result.status == 0 { return result.output }
        if result.error.contains("No such file or directory") { return nil }
        throw FirewallError("list table inet \(table)", result.error)
    }
}
