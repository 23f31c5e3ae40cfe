import Logging
import NimbusBackground
import ServiceLifecycle

/// Checks (and repairs) this host's VPC isolation table every `interval`, like a reconcile
/// round but on every replica, lease or not: the filter belongs to the host, not to the
/// deployment.
public struct FirewallGuard: Service {
    let core: ComputeCore
    let interval: Duration

    public init(core: ComputeCore, interval: Duration = .seconds(2)) {
        self.core = core
        self.interval = interval
    }

    public func run() async throws {
        let worker = PeriodicWorker(name: "firewall", interval: interval, failureLevel: .error, logger: core.logger) { [core] in
            try await core.syncFirewall()
            return .idle
        }
        try await worker.run()
    }
}
