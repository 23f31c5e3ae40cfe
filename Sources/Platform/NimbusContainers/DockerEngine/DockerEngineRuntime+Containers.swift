import Foundation
import Synchronization

extension DockerEngineRuntime {
    public func createContainer(_ spec: ContainerSpec) async throws -> String {
        let operation = "create container\(spec.name.map { " \($0)" } ?? "") from \(spec.image)"
        var bindings: [String: [CreateContainerBody.HostPort]] = [:]
        var exposed: [String: EmptyObject] = [:]
        for port in spec.ports {
            guard (1...65535).contains(port.containerPort), (0...65535).contains(port.hostPort ?? 0) else {
                throw ContainerRuntimeError(.invalidRequest, operation: operation, message: "port out of range: \(port)")
            }
            let key = "\(port.containerPort)/\(port.protocol.rawValue)"
            exposed[key] = EmptyObject()
            // 127.0.0.1 only: published ports never face the outside network.
            bindings[key, default: []].append(.init(hostIP: "127.0.0.1", hostPort: port.hostPort.flatMap { $0 == 0 ? nil : String($0) } ?? ""))
        }
        let body = CreateContainerBody(
            image: spec.image,
            cmd: spec.command.isEmpty ? nil : spec.command,
            entrypoint: spec.entrypoint,
            env: spec.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            labels: spec.labels,
            exposedPorts: exposed,
            hostname: spec.hostname,
            tty: false,
            hostConfig: .init(
                nanoCPUs: spec.resources.nanoCPUs > 0 ? spec.resources.nanoCPUs : nil,
                memory: spec.resources.memoryBytes > 0 ? spec.resources.memoryBytes : nil,
                portBindings: bindings,
                networkMode: spec.network,
                restartPolicy: .init(name: "no")),
            networkingConfig: spec.network.map { network in
                .init(endpointsConfig: [network: .init(aliases: spec.networkAliases.isEmpty ? nil : spec.networkAliases)])
            })
        var query: [(String, String)] = []
        if let name = spec.name { query.append(("name", name)) }
        let response = try await call("POST", path("/containers/create", query), body: try Self.encode(body), operation: operation)
        return try decode(IDBody.self, response, operation: operation).id
    }

    public func startContainer(_ id: String) async throws {
        // 304: already running.
        try await call("POST", path("/containers/\(Self.segment(id))/start"), operation: "start container \(Self.shortID(id))", accept: [204, 304])
    }

    public func stopContainer(_ id: String, timeout: Duration) async throws {
        let seconds = max(0, Int(timeout.components.seconds))
        try await call(
            "POST", path("/containers/\(Self.segment(id))/stop", [("t", String(seconds))]),
            timeout: requestTimeout + timeout, operation: "stop container \(Self.shortID(id))", accept: [204, 304])
    }

    public func restartContainer(_ id: String, timeout: Duration) async throws {
        let seconds = max(0, Int(timeout.components.seconds))
        try await call(
            "POST", path("/containers/\(Self.segment(id))/restart", [("t", String(seconds))]),
            timeout: requestTimeout + timeout, operation: "restart container \(Self.shortID(id))", accept: [204])
    }

    public func killContainer(_ id: String, signal: String) async throws {
        try await call(
            "POST", path("/containers/\(Self.segment(id))/kill", [("signal", signal)]),
            operation: "kill container \(Self.shortID(id))", accept: [204])
    }

    public func removeContainer(_ id: String, force: Bool) async throws {
        try await call(
            "DELETE", path("/containers/\(Self.segment(id))", [("force", force ? "true" : "false"), ("v", "true")]),
            operation: "remove container \(Self.shortID(id))", accept: [200, 204])
    }

    public func inspectContainer(_ id: String) async throws -> ContainerDetails {
        let operation = "inspect container \(Self.shortID(id))"
        let response = try await call("GET", path("/containers/\(Self.segment(id))/json"), operation: operation, accept: [200])
        let body = try decode(ContainerInspectBody.self, response, operation: operation)
        var ports: [PublishedPort] = []
        for (key, hostPorts) in body.networkSettings?.ports ?? [:] {
            let parts = key.split(separator: "/")
            guard let containerPort = parts.first.flatMap({ Int($0) }) else { continue }
            let proto = parts.count > 1 ? PortProtocol(rawValue: String(parts[1])) ?? .tcp : .tcp
            for hostPort in hostPorts ?? [] {
                guard let number = Int(hostPort.hostPort) else { continue }
                ports.append(PublishedPort(containerPort: containerPort, protocol: proto, hostIP: hostPort.hostIP, hostPort: number))
            }
        }
        ports.sort { ($0.containerPort, $0.hostPort) < ($1.containerPort, $1.hostPort) }
        let state = ContainerState(
            status: ContainerStatus(engineValue: body.state.status),
            running: body.state.running,
            exitCode: body.state.exitCode,
            oomKilled: body.state.oomKilled ?? false,
            error: body.state.error ?? "",
            pid: body.state.pid ?? 0,
            startedAt: EngineTimestamp.parse(body.state.startedAt),
            finishedAt: EngineTimestamp.parse(body.state.finishedAt))
        return ContainerDetails(
            id: body.id,
            name: body.name.hasPrefix("/") ? String(body.name.dropFirst()) : body.name,
            image: body.config?.image ?? "",
            imageID: body.image ?? "",
            labels: body.config?.labels ?? [:],
            state: state,
            ports: ports,
            networks: (body.networkSettings?.networks ?? [:]).mapValues {
                NetworkEndpoint(networkID: $0.networkID ?? "", ipAddress: $0.ipAddress ?? "", gateway: $0.gateway ?? "")
            },
            resources: ContainerResources(nanoCPUs: body.hostConfig?.nanoCPUs ?? 0, memoryBytes: body.hostConfig?.memory ?? 0),
            restartCount: body.restartCount ?? 0)
    }

    public func listContainers(labels: [LabelFilter], all: Bool) async throws -> [ContainerSummary] {
        let operation = "list containers"
        var query = [("all", all ? "true" : "false")]
        query += Self.labelFilters(labels)
        let response = try await call("GET", path("/containers/json", query), operation: operation, accept: [200])
        return try decode([ContainerListItem].self, response, operation: operation).map { item in
            ContainerSummary(
                id: item.id,
                names: (item.names ?? []).map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 },
                image: item.image ?? "",
                labels: item.labels ?? [:],
                status: ContainerStatus(engineValue: item.state ?? ""),
                statusText: item.status ?? "")
        }
    }

    public func stats(_ id: String) async throws -> ContainerStats {
        let operation = "stats of container \(Self.shortID(id))"
        let response = try await call("GET", path("/containers/\(Self.segment(id))/stats", [("stream", "false")]), operation: operation, accept: [200])
        let body = try decode(StatsBody.self, response, operation: operation)
        let networks = body.networks?.values.map { $0 } ?? []
        return ContainerStats(
            readAt: EngineTimestamp.parse(body.read) ?? Date(),
            cpuTotalNanos: body.cpuStats?.cpuUsage?.totalUsage ?? 0,
            systemCPUNanos: body.cpuStats?.systemCPUUsage ?? 0,
            onlineCPUs: body.cpuStats?.onlineCPUs ?? 0,
            memoryUsageBytes: body.memoryStats?.usage ?? 0,
            memoryLimitBytes: body.memoryStats?.limit ?? 0,
            pids: body.pidsStats?.current ?? 0,
            networkRxBytes: networks.reduce(0) { $0 + ($1.rxBytes ?? 0) },
            networkTxBytes: networks.reduce(0) { $0 + ($1.txBytes ?? 0) })
    }

    public func logs(_ id: String, options: LogOptions) -> AsyncThrowingStream<LogChunk, any Error> {
        var query: [(String, String)] = [
            ("stdout", options.stdout ? "true" : "false"),
            ("stderr", options.stderr ? "true" : "false"),
            ("follow", options.follow ? "true" : "false"),
            ("timestamps", options.timestamps ? "true" : "false"),
        ]
        if let tail = options.tail { query.append(("tail", String(max(0, tail)))) }
        let operation = "logs of container \(Self.shortID(id))"
        let request = EngineRequest(
            method: "GET", path: path("/containers/\(Self.segment(id))/logs", query),
            timeout: options.follow ? nil : requestTimeout, operation: operation)
        let (stream, continuation) = AsyncThrowingStream<LogChunk, any Error>.makeStream()
        let demultiplexer = LockedDemultiplexer()
        let handle = http.stream(request) { data in
            do {
                for chunk in try demultiplexer.feed(data) {
                    if case .terminated = continuation.yield(chunk) { return false }
                }
                return true
            } catch {
                continuation.finish(throwing: ContainerRuntimeError(.invalidResponse, operation: operation, message: "\(error)"))
                return false
            }
        } completion: { result in
            switch result {
            case .success(let response) where (200..<300).contains(response.status) || response.status == 0:
                continuation.finish()
            case .success(let response):
                continuation.finish(throwing: Self.error(for: response, operation: operation))
            case .failure(let error):
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in handle.cancel() }
        return stream
    }
}

/// The demultiplexer is only used from the transfer's loop thread; the lock makes that checkable.
private final class LockedDemultiplexer: Sendable {
    private let state = Mutex(DockerLogDemultiplexer())
    func feed(_ data: Data) throws -> [LogChunk] {
        try state.withLock { try $0.feed(data) }
    }
}
