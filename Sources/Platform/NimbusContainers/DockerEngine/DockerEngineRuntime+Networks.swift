import Foundation

extension DockerEngineRuntime {
    public func createNetwork(_ spec: NetworkSpec) async throws -> String {
        let operation = "create network \(spec.name) (\(spec.subnet))"
        var options: [String: String] = [:]
        // Podman's netavark drops traffic between networks marked isolate; Docker isolates
        // bridge networks anyway and ignores the option.
        if spec.isolated { options["isolate"] = "true" }
        if let bridge = spec.bridgeName {
            guard !bridge.isEmpty, bridge.utf8.count <= 15 else {
                throw ContainerRuntimeError(.invalidRequest, operation: operation, message: "bridge name must be 1–15 characters")
            }
            options["com.docker.network.bridge.name"] = bridge
        }
        let body = NetworkCreateBody(
            name: spec.name, driver: "bridge", checkDuplicate: true, internal: spec.internal, labels: spec.labels,
            ipam: .init(driver: "default", config: [.init(subnet: spec.subnet, gateway: spec.gateway)]),
            options: options)
        let response = try await call("POST", path("/networks/create"), body: try Self.encode(body), operation: operation, accept: [200, 201])
        return try decode(IDBody.self, response, operation: operation).id
    }

    public func removeNetwork(_ idOrName: String) async throws {
        try await call("DELETE", path("/networks/\(Self.segment(idOrName))"), operation: "remove network \(idOrName)", accept: [200, 204])
    }

    public func listNetworks(labels: [LabelFilter]) async throws -> [NetworkSummary] {
        let operation = "list networks"
        let response = try await call("GET", path("/networks", Self.labelFilters(labels)), operation: operation, accept: [200])
        return try decode([NetworkBody].self, response, operation: operation).map(Self.summary)
    }

    public func inspectNetwork(_ idOrName: String) async throws -> NetworkSummary {
        let operation = "inspect network \(idOrName)"
        let response = try await call("GET", path("/networks/\(Self.segment(idOrName))"), operation: operation, accept: [200])
        return Self.summary(try decode(NetworkBody.self, response, operation: operation))
    }

    static func summary(_ body: NetworkBody) -> NetworkSummary {
        NetworkSummary(
            id: body.id, name: body.name, driver: body.driver ?? "",
            subnets: body.ipam?.config?.compactMap(\.subnet) ?? [],
            internal: body.internal ?? false, labels: body.labels ?? [:], options: body.options ?? [:])
    }
}
