import Foundation
import NimbusContainers
import Logging
import NimbusPostgres
import NimbusRPCCore

/// The engine-facing half: what the instance worker does for an instance it claimed, and what
/// the reconciler does with what it sees. Each step ends in one optimistic update; when the
/// row changed meanwhile (say, terminated during a launch) the worker leaves it for the next
/// round, which sees the new state.
extension ComputeCore {
    /// Performs the transition `instance` is in and records the outcome.
    public func advance(_ instance: Instance) async {
        do {
            switch instance.state {
            case .pending: try await performLaunch(instance)
            case .stopping: try await perform(instance) { try await runtime.stopContainer($0, timeout: stopTimeout) }
            case .starting: try await perform(instance) { try await runtime.startContainer($0) }
            case .rebooting: try await perform(instance) { try await runtime.restartContainer($0, timeout: stopTimeout) }
            case .terminating: try await performTerminate(instance)
            default: break
            }
            if instance.quotaState == .releasePending, [.terminated, .error].contains(instance.state) {
                try await releaseQuota(instance)
            }
        } catch {
            logger.warning("instance step failed; retried on a later round", metadata: [
                "instance.id": "\(instance.id)", "instance.state": "\(instance.state.rawValue)", "error": "\(error)",
            ])
        }
    }

    private func performLaunch(_ instance: Instance) async throws {
        var containerID: String?
        do {
            let vpc = try await instance.vpcID.asyncMap { id in try await read { try await CatalogStore.vpc($0, id: id, tenantID: nil) } }
            if let vpc { try await ensureNetwork(vpc) }
            let spec = ContainerSpec(
                name: instance.containerName, image: instance.imageRef, command: instance.command, environment: try envCipher.open(instance.env, instanceID: instance.id),
                labels: instance.containerLabels(deployment: deployment),
                resources: ContainerResources(nanoCPUs: Int64(instance.vcpus) * 1_000_000_000, memoryBytes: Int64(instance.memoryMB) * 1024 * 1024),
                ports: instance.ports.map { PortBinding(containerPort: $0.containerPort, protocol: PortProtocol(rawValue: $0.protocol) ?? .tcp, hostPort: $0.hostPort == 0 ? nil : $0.hostPort) },
                network: vpc?.networkName, networkAliases: [instance.name], hostname: instance.name)
            do {
                containerID = try await runtime.createContainer(spec)
            } catch let error as ContainerRuntimeError where error.code == .conflict {
                // An earlier attempt created it before crashing: adopt it.
                containerID = try await runtime.inspectContainer(instance.containerName).id
            }
            guard let containerID else { return }
            try await runtime.startContainer(containerID)
            let details = try await runtime.inspectContainer(containerID)
            var next = instance
            _ = try next.machine.complete(.launched)
            next.containerID = containerID
            next.published = details.ports.map { InstancePort(containerPort: $0.containerPort, protocol: $0.protocol.rawValue, hostPort: $0.hostPort) }
            next.privateIP = vpc.flatMap { details.networks[$0.networkName]?.ipAddress } ?? details.networks.values.first?.ipAddress ?? ""
            try await record(next, launched: true, action: "instance.running")
        } catch let error as ComputeError where error.code == .aborted {
            throw error
        } catch {
            var failed = instance
            failed.containerID = nil
            let reason = Self.reason(error)
            _ = try failed.machine.complete(.failed(reason: reason))
            if let containerID { try? await runtime.removeContainer(containerID, force: true) }
            failed.quotaState = .releasePending
            guard let stored = try await record(failed, action: "instance.launch_failed", outcome: "FAILURE", metadata: ["reason": reason]) else { return }
            try await releaseQuota(stored)
        }
    }

    /// Stop / start / restart, then the state the container is in.
    private func perform(_ instance: Instance, _ step: (String) async throws -> Void) async throws {
        var next = instance
        guard let containerID = instance.containerID else {
            _ = try next.machine.complete(.failed(reason: "the instance has no container"))
            try await record(next, action: "instance.error", outcome: "FAILURE")
            return
        }
        do {
            try await step(containerID)
            if instance.state != .stopping {
                let details = try await runtime.inspectContainer(containerID)
                next.published = details.ports.map { InstancePort(containerPort: $0.containerPort, protocol: $0.protocol.rawValue, hostPort: $0.hostPort) }
            }
            _ = try next.machine.complete(.transitionDone)
        } catch let error as ContainerRuntimeError where error.code == .engineUnreachable {
            throw error  // the engine may come back: leave the instance in its transition
        } catch {
            _ = try next.machine.complete(.failed(reason: Self.reason(error)))
        }
        try await record(next, action: "instance.\(next.state.rawValue.lowercased())")
    }

    private func performTerminate(_ instance: Instance) async throws {
        // The recorded container and any other carrying the instance's label (a launch that
        // raced the terminate).
        var ids = Set(instance.containerID.map { [$0] } ?? [])
        for container in try await runtime.listContainers(labels: [.equals(ComputeLabels.instance, instance.id)], all: true) {
            ids.insert(container.id)
        }
        for id in ids {
            do {
                try await runtime.removeContainer(id, force: true)
            } catch let error as ContainerRuntimeError where error.code == .notFound {
            }
        }
        var next = instance
        _ = try next.machine.complete(.removed)
        next.containerID = nil
        next.published = []
        next.quotaState = instance.quotaState == .reserved ? .releasePending : instance.quotaState
        guard let stored = try await record(next, terminated: true, action: "instance.terminated") else { return }
        if stored.quotaState == .releasePending { try await releaseQuota(stored) }
    }

    /// Gives the reservation back (idempotent by key) and records it.
    func releaseQuota(_ instance: Instance) async throws {
        try await quota.release(tenantID: instance.tenantID, key: instance.quotaKey)
        var next = instance
        next.quotaState = .released
        _ = try await record(next, action: nil)
    }

    func ensureNetwork(_ vpc: VPC) async throws {
        do {
            _ = try await runtime.inspectNetwork(vpc.networkName)
        } catch let error as ContainerRuntimeError where error.code == .notFound {
            try await createNetwork(for: vpc)
            await syncFirewallAfterChange()
        }
    }

    /// Writes `next` if the row still has its version; an audit event for system changes.
    @discardableResult
    func record(_ next: Instance, launched: Bool = false, terminated: Bool = false, action: String?,
                outcome: String = "SUCCESS", metadata: [String: String] = [:]) async throws -> Instance? {
        try await transaction { c in
            guard let stored = try await InstanceStore.update(c, next, launched: launched, terminated: terminated) else { return nil }
            if let action {
                var meta = metadata
                if !next.machine.reason.isEmpty { meta["reason"] = next.machine.reason }
                try await Outbox.append(Outbox.Event(tenantID: next.tenantID, actorUserID: "service:nimbus-compute", actorKeyID: "",
                                                     action: action, resourceType: "instance", resourceID: next.id,
                                                     outcome: outcome, metadata: meta), in: c)
            }
            return stored
        }
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as ContainerRuntimeError where error.code == .engineUnreachable: "the container engine is unavailable"
        case let error as ContainerRuntimeError: "\(error.operation): \(error.message)"
        case let error as ComputeError: error.message
        default: "\(error)"
        }
    }

    // MARK: reconciling

    /// Compares settled instances with the engine: containers that died or vanished are
    /// reflected, orphaned labelled containers removed. Returns the number of changes.
    @discardableResult
    public func reconcile() async throws -> Int {
        // Instances before containers: a launch that settles between the two reads is then not
        // seen at all (next round), instead of seen RUNNING without its brand-new container.
        let settled = try await read { try await InstanceStore.settled($0) }
        let containers = try await runtime.listContainers(labels: [.equals(ComputeLabels.deployment, deployment)], all: true)
        let byID = Dictionary(containers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var changes = 0
        for instance in settled {
            guard let containerID = instance.containerID else { continue }
            let observation: ContainerObservation
            if let container = byID[containerID] {
                switch container.status {
                case .running, .restarting, .paused: observation = .running
                case .exited, .dead:
                    let details = try? await runtime.inspectContainer(containerID)
                    if details?.state.running == true { continue }
                    observation = .exited(code: details?.state.exitCode ?? -1)
                default: continue
                }
            } else {
                observation = .missing
            }
            var next = instance
            _ = next.machine.observe(observation)
            guard next.machine != instance.machine else { continue }
            if observation == .missing { next.containerID = nil }
            if try await record(next, action: "instance.\(next.state.rawValue.lowercased())", metadata: ["observed": "\(observation)"]) != nil {
                changes += 1
                logger.info("instance changed outside Nimbus", metadata: [
                    "instance.id": "\(instance.id)", "instance.state": "\(next.state.rawValue)", "reason": "\(next.machine.reason)",
                ])
            }
        }
        // Orphans: labelled containers whose instance is gone or TERMINATED.
        let live = try await read { try await InstanceStore.liveIDs($0) }
        for container in containers {
            guard let owner = container.labels[ComputeLabels.instance], !live.contains(owner) else { continue }
            try? await runtime.removeContainer(container.id, force: true)
            changes += 1
            logger.info("removed an orphaned container", metadata: ["container.id": "\(container.id.prefix(12))", "instance.id": "\(owner)"])
        }
        return changes
    }
}
