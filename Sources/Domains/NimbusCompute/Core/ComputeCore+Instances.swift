import Foundation
import NimbusBackground
import NimbusContainers
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore

extension ComputeCore {
    static var namePattern: Regex<(Substring, Substring?)> { /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/ }
    static var envKeyPattern: Regex<Substring> { /^[A-Za-z_][A-Za-z0-9_]{0,127}$/ }
    static var labelKeyPattern: Regex<(Substring, Substring?)> { /^[a-z0-9]([a-z0-9._\/-]{0,61}[a-z0-9])?$/ }

    func validate(_ request: LaunchRequest) throws {
        guard request.name.wholeMatch(of: Self.namePattern) != nil else {
            throw ComputeError.invalid("name must be 1–63 lower-case letters, digits or '-', starting and ending with a letter or digit")
        }
        guard !request.image.isEmpty else { throw ComputeError.invalid("image is required") }
        guard request.command.count <= 64, request.command.allSatisfy({ $0.utf8.count <= 4096 && !$0.contains("\0") }) else {
            throw ComputeError.invalid("command: at most 64 arguments of 4096 bytes")
        }
        guard request.env.count <= 128, request.env.allSatisfy({ $0.key.wholeMatch(of: Self.envKeyPattern) != nil && $0.value.utf8.count <= 8192 && !$0.value.contains("\0") }) else {
            throw ComputeError.invalid("env: at most 128 variables named [A-Za-z_][A-Za-z0-9_]*, values up to 8192 bytes")
        }
        guard request.labels.count <= 64, request.labels.allSatisfy({ $0.key.wholeMatch(of: Self.labelKeyPattern) != nil && $0.value.utf8.count <= 256 && !$0.key.hasPrefix("nimbus.") }) else {
            throw ComputeError.invalid("labels: at most 64, keys lower-case [a-z0-9._/-] (not nimbus.*), values up to 256 bytes")
        }
        guard request.ports.count <= 32 else { throw ComputeError.invalid("at most 32 port mappings") }
        var seen = Set<String>()
        for port in request.ports {
            guard (1...65535).contains(port.containerPort) else { throw ComputeError.invalid("container_port must be 1–65535") }
            guard ["tcp", "udp"].contains(port.protocol) else { throw ComputeError.invalid("protocol must be tcp or udp") }
            guard port.hostPort == 0 || (1024...65535).contains(port.hostPort) else { throw ComputeError.invalid("host_port must be 0 (any) or 1024–65535") }
            guard seen.insert("\(port.containerPort)/\(port.protocol)").inserted else { throw ComputeError.invalid("container port \(port.containerPort)/\(port.protocol) mapped twice") }
        }
        guard request.clientToken.utf8.count <= 128 else { throw ComputeError.invalid("client_token: at most 128 bytes") }
    }

    /// Validates, reserves quota, records a PENDING instance (and its audit event) and wakes
    /// the worker; the container is created by the worker. Nothing is created when the quota
    /// says no; the reservation is released when recording fails.
    public func launch(_ caller: Principal, _ input: LaunchRequest) async throws -> Instance {
        try caller.require(.instanceLaunch)
        let tenantID = try Self.tenant(of: caller)
        var request = input
        request.ports = request.ports.map { InstancePort(containerPort: $0.containerPort, protocol: $0.protocol.isEmpty ? "tcp" : $0.protocol.lowercased(), hostPort: $0.hostPort) }
        if request.instanceType.isEmpty { request.instanceType = "basic-1" }
        try validate(request)

        let quotaKey = request.clientToken.isEmpty ? "instance:\(UUID().uuidString.lowercased())" : "launch:\(tenantID):\(request.clientToken)"
        if !request.clientToken.isEmpty, let existing = try await read({ try await InstanceStore.fetch($0, quotaKey: quotaKey) }) {
            return existing
        }
        let (image, type, vpc) = try await read { c in
            (try await CatalogStore.usableImage(c, tenantID: tenantID, idOrName: request.image),
             try await CatalogStore.instanceType(c, id: request.instanceType),
             try await request.vpcID.asyncMap { try await CatalogStore.vpc(c, id: $0, tenantID: tenantID) })
        }
        guard let image else { throw ComputeError.notFound("image \(request.image)") }
        guard let type else { throw ComputeError.notFound("instance type \(request.instanceType)") }
        if request.vpcID != nil, vpc == nil { throw ComputeError.notFound("VPC") }
        if request.vpcID == nil {
            request.vpcID = try await defaultVPC(caller).id
        }

        try await quota.reserve(tenantID: tenantID, key: quotaKey, instances: 1, vcpus: type.vcpus, memoryMB: type.memoryMB)
        let id = UUID().uuidString.lowercased()
        do {
            let instance = try await transaction { c in
                let instance = try await InstanceStore.insert(c, id: id, tenantID: tenantID, createdBy: Self.user(of: caller), request: request,
                                                              sealedEnv: try envCipher.seal(request.env, instanceID: id), image: image, quotaKey: quotaKey)
                try await Outbox.append(event(caller, "instance.launch", "instance", id, [
                    "name": request.name, "image": image.name, "instance_type": type.id,
                ]), in: c)
                return instance
            }
            // An engine that does not answer fails the launch now (UNAVAILABLE) rather than
            // later in the worker: the instance goes to ERROR and the quota comes back.
            do {
                try await runtime.ping()
            } catch let error as ContainerRuntimeError where error.code == .engineUnreachable {
                var failed = instance
                _ = try failed.machine.complete(.failed(reason: Self.reason(error)))
                failed.quotaState = .releasePending
                if let stored = try await record(failed, action: "instance.launch_failed", outcome: "FAILURE") {
                    try? await releaseQuota(stored)
                }
                throw error
            }
            wake.signal()
            return instance
        } catch let error as ContainerRuntimeError where error.code == .engineUnreachable {
            throw error
        } catch {
            // A retry with the same client token may have won the race: that instance is the answer.
            if !request.clientToken.isEmpty, let existing = try? await read({ try await InstanceStore.fetch($0, quotaKey: quotaKey) }) {
                return existing
            }
            try? await quota.release(tenantID: tenantID, key: quotaKey)
            throw error
        }
    }

    public func instance(_ caller: Principal, id: String) async throws -> Instance {
        try caller.require(.instanceRead)
        let tenantID = try Self.tenant(of: caller)
        guard let instance = try await read({ try await InstanceStore.fetch($0, id: id, tenantID: tenantID) }) else {
            throw ComputeError.notFound("instance")
        }
        return instance
    }

    public func instances(_ caller: Principal, filter: InstanceFilter, pageSize: Int, pageToken: String) async throws -> Page<Instance> {
        try caller.require(.instanceRead)
        let tenantID = try Self.tenant(of: caller)
        let limit = try PageCursor.limit(pageSize)
        let cursor = try pageToken.isEmpty ? nil : PageCursor(token: pageToken)
        let rows = try await read { try await InstanceStore.list($0, tenantID: tenantID, filter: filter, after: cursor, limit: limit + 1) }
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last.map { PageCursor(createdAt: $0.createdAt, id: $0.id).token } ?? "" : ""
        return Page(items: items, nextPageToken: next)
    }

    /// Stop, start, reboot or terminate: the state machine decides; the row changes under
    /// optimistic locking (`expectedVersion` 0: whatever is current); the worker acts.
    public func command(_ caller: Principal, _ command: InstanceCommand, id: String, expectedVersion: Int64 = 0) async throws -> Instance {
        try caller.require(.instanceManage)
        let tenantID = try Self.tenant(of: caller)
        let result = try await transaction { c -> Instance in
            guard var instance = try await InstanceStore.fetch(c, id: id, tenantID: tenantID, lock: true) else {
                throw ComputeError.notFound("instance")
            }
            if expectedVersion != 0, expectedVersion != instance.version { throw ComputeError.staleVersion }
            let action = try instance.machine.request(command, hasContainer: instance.containerID != nil)
            guard action != .none else { return instance }
            guard let updated = try await InstanceStore.update(c, instance) else { throw ComputeError.staleVersion }
            try await Outbox.append(event(caller, "instance.\(command.rawValue)", "instance", id), in: c)
            instance = updated
            return instance
        }
        wake.signal()
        return result
    }

    public func logs(_ caller: Principal, id: String, follow: Bool, tail: Int) async throws -> AsyncThrowingStream<LogChunk, any Error> {
        let instance = try await self.instance(caller, id: id)
        guard let container = instance.containerID else {
            throw ComputeError.precondition("the instance has no container yet (\(instance.state.rawValue))")
        }
        return runtime.logs(container, options: LogOptions(follow: follow, tail: tail > 0 ? tail : nil))
    }

    /// Two samples half a second apart give the CPU percentage.
    public func stats(_ caller: Principal, id: String) async throws -> (stats: ContainerStats, cpuPercent: Double) {
        let instance = try await self.instance(caller, id: id)
        guard instance.state == .running, let container = instance.containerID else {
            throw ComputeError.precondition("stats need a RUNNING instance (it is \(instance.state.rawValue))")
        }
        let first = try await runtime.stats(container)
        try await Task.sleep(for: .milliseconds(500))
        let second = try await runtime.stats(container)
        return (second, second.cpuPercent(since: first) ?? 0)
    }

    public func instanceTypes(_ caller: Principal) async throws -> [InstanceType] {
        try caller.require(.instanceRead)
        return try await read { try await CatalogStore.instanceTypes($0) }
    }

    public func instanceType(_ caller: Principal, id: String) async throws -> InstanceType {
        try caller.require(.instanceRead)
        guard let type = try await read({ try await CatalogStore.instanceType($0, id: id) }) else { throw ComputeError.notFound("instance type") }
        return type
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
