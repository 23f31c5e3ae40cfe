import Foundation

/// The engine's identity (`GET /version`).
public struct EngineVersion: Sendable, Hashable {
    public var version: String
    public var apiVersion: String
    public var minAPIVersion: String
    public var os: String
    public var arch: String
    /// "Podman Engine", "Engine" (Docker) …
    public var components: [String]
}

/// A label condition for list calls: the label is present, or present with a value.
public enum LabelFilter: Sendable, Hashable {
    case exists(String)
    case equals(String, String)

    var engineValue: String {
        switch self {
        case .exists(let key): key
        case .equals(let key, let value): "\(key)=\(value)"
        }
    }
}

public enum PortProtocol: String, Sendable, Hashable, CaseIterable {
    case tcp
    case udp
}

/// A container port published on the host. The host address is always 127.0.0.1: nothing a
/// Nimbus instance serves is reachable from outside the machine through the engine.
public struct PortBinding: Sendable, Hashable {
    public var containerPort: Int
    public var `protocol`: PortProtocol
    /// nil: the engine picks a free port (read it back from `ContainerDetails.ports`).
    public var hostPort: Int?

    public init(containerPort: Int, protocol: PortProtocol = .tcp, hostPort: Int? = nil) {
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostPort = hostPort
    }
}

/// CPU and memory limits (an instance type's size).
public struct ContainerResources: Sendable, Hashable {
    /// CPU in units of 10⁻⁹ CPUs (1 vCPU = 1_000_000_000).
    public var nanoCPUs: Int64
    public var memoryBytes: Int64

    public init(nanoCPUs: Int64 = 0, memoryBytes: Int64 = 0) {
        self.nanoCPUs = nanoCPUs
        self.memoryBytes = memoryBytes
    }

    public init(vcpus: Double, memoryMiB: Int64) {
        self.init(nanoCPUs: Int64(vcpus * 1_000_000_000), memoryBytes: memoryMiB * 1024 * 1024)
    }
}

/// Everything needed to create a container.
public struct ContainerSpec: Sendable, Hashable {
    public var name: String?
    public var image: String
    /// Empty: the image's default command.
    public var command: [String]
    public var entrypoint: [String]?
    public var environment: [String: String]
    public var labels: [String: String]
    public var resources: ContainerResources
    public var ports: [PortBinding]
    /// The network to join (a VPC's network); nil: the engine's default network.
    public var network: String?
    /// Extra DNS names on `network`.
    public var networkAliases: [String]
    public var hostname: String?

    public init(
        name: String? = nil, image: String, command: [String] = [], entrypoint: [String]? = nil,
        environment: [String: String] = [:], labels: [String: String] = [:],
        resources: ContainerResources = ContainerResources(), ports: [PortBinding] = [],
        network: String? = nil, networkAliases: [String] = [], hostname: String? = nil
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.entrypoint = entrypoint
        self.environment = environment
        self.labels = labels
        self.resources = resources
        self.ports = ports
        self.network = network
        self.networkAliases = networkAliases
        self.hostname = hostname
    }
}

/// The engine's view of a container's life.
public enum ContainerStatus: Sendable, Hashable {
    case created, running, paused, restarting, removing, exited, dead
    case other(String)

    init(engineValue: String) {
        switch engineValue.lowercased() {
        case "created", "configured", "initialized": self = .created
        case "running": self = .running
        case "paused": self = .paused
        case "restarting": self = .restarting
        case "removing": self = .removing
        case "exited", "stopped": self = .exited
        case "dead": self = .dead
        default: self = .other(engineValue)
        }
    }
}

public struct ContainerState: Sendable, Hashable {
    public var status: ContainerStatus
    public var running: Bool
    public var exitCode: Int
    public var oomKilled: Bool
    /// The engine's error text when the container failed to start.
    public var error: String
    public var pid: Int
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A port as the engine published it.
public struct PublishedPort: Sendable, Hashable {
    public var containerPort: Int
    public var `protocol`: PortProtocol
    public var hostIP: String
    public var hostPort: Int
}

/// A container's attachment to one network.
public struct NetworkEndpoint: Sendable, Hashable {
    public var networkID: String
    public var ipAddress: String
    public var gateway: String
}

public struct ContainerDetails: Sendable, Hashable {
    public var id: String
    public var name: String
    public var image: String
    public var imageID: String
    public var labels: [String: String]
    public var state: ContainerState
    public var ports: [PublishedPort]
    /// Keyed by network name.
    public var networks: [String: NetworkEndpoint]
    public var resources: ContainerResources
    public var restartCount: Int
}

public struct ContainerSummary: Sendable, Hashable {
    public var id: String
    public var names: [String]
    public var image: String
    public var labels: [String: String]
    public var status: ContainerStatus
    /// Human text such as "Up 3 seconds" or "Exited (137) 2 seconds ago".
    public var statusText: String
}

public struct LogOptions: Sendable, Hashable {
    public var follow: Bool
    /// Only the last `tail` lines; nil: everything.
    public var tail: Int?
    public var stdout: Bool
    public var stderr: Bool
    public var timestamps: Bool

    public init(follow: Bool = false, tail: Int? = nil, stdout: Bool = true, stderr: Bool = true, timestamps: Bool = false) {
        self.follow = follow
        self.tail = tail
        self.stdout = stdout
        self.stderr = stderr
        self.timestamps = timestamps
    }
}

public enum LogStream: Sendable, Hashable {
    case stdout, stderr
}

/// A piece of a container's output (not necessarily a whole line).
public struct LogChunk: Sendable, Hashable {
    public var stream: LogStream
    public var data: Data

    public init(stream: LogStream, data: Data) {
        self.stream = stream
        self.data = data
    }
}

/// One sample of a container's counters.
public struct ContainerStats: Sendable, Hashable {
    public var readAt: Date
    /// CPU time the container used, all CPUs together, in nanoseconds.
    public var cpuTotalNanos: UInt64
    /// The host's CPU time at the sample (the denominator of a CPU percentage).
    public var systemCPUNanos: UInt64
    public var onlineCPUs: Int
    public var memoryUsageBytes: UInt64
    public var memoryLimitBytes: UInt64
    public var pids: Int
    public var networkRxBytes: UInt64
    public var networkTxBytes: UInt64

    /// CPU use between `previous` and this sample as a percentage of one CPU (200 = two CPUs
    /// busy), the way `docker stats` counts; nil when the samples do not allow it.
    public func cpuPercent(since previous: ContainerStats) -> Double? {
        guard cpuTotalNanos >= previous.cpuTotalNanos, systemCPUNanos > previous.systemCPUNanos else { return nil }
        let cpuDelta = Double(cpuTotalNanos - previous.cpuTotalNanos)
        let systemDelta = Double(systemCPUNanos - previous.systemCPUNanos)
        return cpuDelta / systemDelta * Double(max(onlineCPUs, 1)) * 100
    }
}

public struct NetworkSpec: Sendable, Hashable {
    public var name: String
    /// IPv4 CIDR, e.g. 10.20.0.0/24.
    public var subnet: String
    public var gateway: String?
    public var labels: [String: String]
    /// No route out of the network (and no published ports on Podman).
    public var `internal`: Bool
    /// Traffic to other isolated networks is dropped (Docker does this for every bridge
    /// network; Podman's netavark when the network carries `isolate=true`).
    public var isolated: Bool
    /// The host bridge interface (≤ 15 characters); nil: the engine picks one.
    public var bridgeName: String?

    public init(
        name: String, subnet: String, gateway: String? = nil, labels: [String: String] = [:],
        internal: Bool = false, isolated: Bool = true, bridgeName: String? = nil
    ) {
        self.name = name
        self.subnet = subnet
        self.gateway = gateway
        self.labels = labels
        self.internal = `internal`
        self.isolated = isolated
        self.bridgeName = bridgeName
    }
}

public struct NetworkSummary: Sendable, Hashable {
    public var id: String
    public var name: String
    public var driver: String
    public var subnets: [String]
    public var `internal`: Bool
    public var labels: [String: String]
    public var options: [String: String]
}

public struct ImageSummary: Sendable, Hashable {
    public var id: String
    public var tags: [String]
    public var sizeBytes: Int64
    public var createdAt: Date?
    /// Containers using it, when the engine counts them (Podman does; Docker reports -1).
    public var containers: Int
}
