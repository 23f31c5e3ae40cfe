import Foundation

/// A published port as stored (compute.instances.ports / .published).
public struct InstancePort: Codable, Sendable, Hashable {
    public var containerPort: Int
    public var `protocol`: String
    /// 0: any free port (in `ports`); the port in effect (in `published`).
    public var hostPort: Int

    public init(containerPort: Int, protocol: String = "tcp", hostPort: Int = 0) {
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostPort = hostPort
    }

    enum CodingKeys: String, CodingKey {
        case containerPort = "container_port", `protocol`, hostPort = "host_port"
    }
}

/// An instance's environment as stored: sealed (compute.instances.env_sealed), or plain for an
/// empty environment and for rows written before sealing until the start-up pass re-seals them.
public enum StoredEnvironment: Sendable, Hashable {
    case sealed([UInt8])
    case plain([String: String])
}

/// Where an instance's quota reservation stands.
public enum QuotaState: String, Sendable, Hashable {
    case none = "NONE", reserved = "RESERVED", releasePending = "RELEASE_PENDING", released = "RELEASED"
}

/// An instance as the service sees it.
public struct Instance: Sendable, Hashable {
    public var id: String
    public var tenantID: String
    public var createdBy: String
    public var name: String
    public var imageID: String
    public var imageName: String
    public var imageRef: String
    public var instanceType: String
    public var vcpus: Int
    public var memoryMB: Int
    public var vpcID: String?
    public var machine: InstanceStateMachine
    public var command: [String]
    /// Sealed at rest; `InstanceEnvCipher` opens it for the engine and for callers who may see it.
    public var env: StoredEnvironment
    public var ports: [InstancePort]
    public var published: [InstancePort]
    public var labels: [String: String]
    public var containerID: String?
    public var privateIP: String
    public var quotaKey: String
    public var quotaState: QuotaState
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var launchedAt: Date?

    public var state: InstanceState { machine.state }

    /// The engine container's name and labels: how the service finds its own containers.
    public var containerName: String { "nimbus-\(id)" }
    public func containerLabels(deployment: String) -> [String: String] {
        [ComputeLabels.managed: "true", ComputeLabels.deployment: deployment, ComputeLabels.instance: id, ComputeLabels.tenant: tenantID]
    }
}

public enum ComputeLabels {
    public static let managed = "nimbus.managed"
    /// The deployment (compute.deployment.id) the container belongs to.
    public static let deployment = "nimbus.deployment"
    public static let instance = "nimbus.instance"
    public static let tenant = "nimbus.tenant"
    public static let vpc = "nimbus.vpc"
}

public struct InstanceType: Sendable, Hashable {
    public var id: String
    public var name: String
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var networkMbps: Int
    public var pricePerHour: String
    public var category: String
}

public struct ComputeImage: Sendable, Hashable {
    public var id: String
    /// nil: a platform image.
    public var tenantID: String?
    public var name: String
    public var reference: String
    public var description: String
    public var sizeBytes: Int64
    public var createdAt: Date
}

public struct VPC: Sendable, Hashable {
    public var id: String
    public var tenantID: String
    public var name: String
    public var cidr: String
    public var networkName: String
    public var bridgeName: String
    public var version: Int64
    public var createdAt: Date
}

/// What a caller asks for at launch, validated.
public struct LaunchRequest: Sendable, Hashable {
    public var name: String
    public var image: String
    public var instanceType: String
    public var command: [String]
    public var env: [String: String]
    public var ports: [InstancePort]
    public var vpcID: String?
    public var labels: [String: String]
    public var clientToken: String

    public init(name: String, image: String, instanceType: String = "basic-1", command: [String] = [], env: [String: String] = [:],
                ports: [InstancePort] = [], vpcID: String? = nil, labels: [String: String] = [:], clientToken: String = "") {
        self.name = name
        self.image = image
        self.instanceType = instanceType
        self.command = command
        self.env = env
        self.ports = ports
        self.vpcID = vpcID
        self.labels = labels
        self.clientToken = clientToken
    }
}

public struct InstanceFilter: Sendable, Hashable {
    public var state: InstanceState?
    public var vpcID: String?
    public var name: String?
    public var labels: [String: String] = [:]
    public var includeTerminated = false
    public init(state: InstanceState? = nil, vpcID: String? = nil, name: String? = nil, labels: [String: String] = [:], includeTerminated: Bool = false) {
        self.state = state
        self.vpcID = vpcID
        self.name = name
        self.labels = labels
        self.includeTerminated = includeTerminated
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextPageToken: String
}
