import Foundation
import Logging
import Metrics
import NimbusPostgres

/// The host's VPC isolation: compute renders its nftables table from the VPCs it knows, applies
/// it at start, after every VPC change and on every reconcile round, and repairs it when
/// something removed or changed it.
extension ComputeCore {
    static let firewallRepairs = Counter(label: "nimbus_compute_firewall_repairs_total")

    /// Every VPC's bridge, of every tenant: all of them share this host's filter.
    func firewallModel() async throws -> FirewallModel {
        let rows = try await read { try await $0.query("SELECT bridge_name FROM compute.vpcs") }
        return FirewallModel(vpcBridges: try rows.map { try $0.decode(String.self, column: "bridge_name") })
    }

    /// Brings the table in line with the model; a repair is logged as the event
    /// `compute.firewall.repaired` and counted in `nimbus_compute_firewall_repairs_total`.
    @discardableResult
    public func syncFirewall() async throws -> HostFirewall.Outcome? {
        guard let firewall else { return nil }
        let model = try await firewallModel()
        let outcome = try await firewall.sync(model)
        switch outcome {
        case .repaired(let reason):
            Self.firewallRepairs.increment()
            logger.warning("firewall repaired", metadata: [
                "event": "compute.firewall.repaired", "firewall.table": "inet \(firewall.table)", "reason": "\(reason)",
                "vpc.bridges": "\(model.vpcBridges.count)",
            ])
        case .applied:
            logger.info("firewall applied", metadata: ["firewall.table": "inet \(firewall.table)", "vpc.bridges": "\(model.vpcBridges.count)"])
        case .unchanged:
            break
        }
        return outcome
    }

    /// After a VPC was created or removed. A failure is logged; the next reconcile round retries.
    func syncFirewallAfterChange() async {
        do {
            try await syncFirewall()
        } catch {
            logger.error("firewall update failed; retried on the next reconcile round", metadata: ["error": "\(error)"])
        }
    }
}
