import Foundation

// The Docker Engine API's JSON (API 1.41, also served by Podman's compat endpoints), only
// the fields Nimbus uses. Explicit coding keys: the API's keys are PascalCase while label
// and port keys inside maps must stay untouched.

struct EmptyObject: Codable, Hashable {}

struct EngineErrorBody: Decodable {
    var message: String
}

struct EngineVersionBody: Decodable {
    struct Component: Decodable {
        var name: String
        enum CodingKeys: String, CodingKey { case name = "Name" }
    }
    var version: String
    var apiVersion: String
    var minAPIVersion: String?
    var os: String?
    var arch: String?
    var components: [Component]?
    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", minAPIVersion = "MinAPIVersion"
        case os = "Os", arch = "Arch", components = "Components"
    }
}

struct CreateContainerBody: Encodable {
    struct HostPort: Codable, Hashable {
        var hostIP: String
        var hostPort: String
        enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }
    }
    struct RestartPolicy: Encodable {
        var name: String
        enum CodingKeys: String, CodingKey { case name = "Name" }
    }
    struct HostConfig: Encodable {
        var nanoCPUs: Int64?
        var memory: Int64?
        var portBindings: [String: [HostPort]]
        var networkMode: String?
        var restartPolicy: RestartPolicy
        enum CodingKeys: String, CodingKey {
            case nanoCPUs = "NanoCpus", memory = "Memory", portBindings = "PortBindings"
            case networkMode = "NetworkMode", restartPolicy = "RestartPolicy"
        }
    }
    struct EndpointSettings: Encodable {
        var aliases: [String]?
        enum CodingKeys: String, CodingKey { case aliases = "Aliases" }
    }
    struct NetworkingConfig: Encodable {
        var endpointsConfig: [String: EndpointSettings]
        enum CodingKeys: String, CodingKey { case endpointsConfig = "EndpointsConfig" }
    }
    var image: String
    var cmd: [String]?
    var entrypoint: [String]?
    var env: [String]
    var labels: [String: String]
    var exposedPorts: [String: EmptyObject]
    var hostname: String?
    var tty: Bool
    var hostConfig: HostConfig
    var networkingConfig: NetworkingConfig?
    enum CodingKeys: String, CodingKey {
        case image = "Image", cmd = "Cmd", entrypoint = "Entrypoint", env = "Env", labels = "Labels"
        case exposedPorts = "ExposedPorts", hostname = "Hostname", tty = "Tty"
        case hostConfig = "HostConfig", networkingConfig = "NetworkingConfig"
    }
}

struct IDBody: Decodable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "Id" }
}

struct ContainerInspectBody: Decodable {
    struct State: Decodable {
        var status: String
        var running: Bool
        var exitCode: Int
        var oomKilled: Bool?
        var error: String?
        var pid: Int?
        var startedAt: String?
        var finishedAt: String?
        enum CodingKeys: String, CodingKey {
            case status = "Status", running = "Running", exitCode = "ExitCode", oomKilled = "OOMKilled"
            case error = "Error", pid = "Pid", startedAt = "StartedAt", finishedAt = "FinishedAt"
        }
    }
    struct Config: Decodable {
        var image: String?
        var labels: [String: String]?
        enum CodingKeys: String, CodingKey { case image = "Image", labels = "Labels" }
    }
    struct Endpoint: Decodable {
        var networkID: String?
        var ipAddress: String?
        var gateway: String?
        enum CodingKeys: String, CodingKey { case networkID = "NetworkID", ipAddress = "IPAddress", gateway = "Gateway" }
    }
    struct NetworkSettings: Decodable {
        var ports: [String: [CreateContainerBody.HostPort]?]?
        var networks: [String: Endpoint]?
        enum CodingKeys: String, CodingKey { case ports = "Ports", networks = "Networks" }
    }
    struct HostConfig: Decodable {
        var nanoCPUs: Int64?
        var memory: Int64?
        enum CodingKeys: String, CodingKey { case nanoCPUs = "NanoCpus", memory = "Memory" }
    }
    var id: String
    var name: String
    var image: String?
    var state: State
    var config: Config?
    var networkSettings: NetworkSettings?
    var hostConfig: HostConfig?
    var restartCount: Int?
    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", image = "Image", state = "State", config = "Config"
        case networkSettings = "NetworkSettings", hostConfig = "HostConfig", restartCount = "RestartCount"
    }
}

struct ContainerListItem: Decodable {
    var id: String
    var names: [String]?
    var image: String?
    var labels: [String: String]?
    var state: String?
    var status: String?
    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", labels = "Labels", state = "State", status = "Status"
    }
}

struct StatsBody: Decodable {
    struct CPUUsage: Decodable {
        var totalUsage: UInt64?
        enum CodingKeys: String, CodingKey { case totalUsage = "total_usage" }
    }
    struct CPUStats: Decodable {
        var cpuUsage: CPUUsage?
        var systemCPUUsage: UInt64?
        var onlineCPUs: Int?
        enum CodingKeys: String, CodingKey {
            case cpuUsage = "cpu_usage", systemCPUUsage = "system_cpu_usage", onlineCPUs = "online_cpus"
        }
    }
    struct MemoryStats: Decodable {
        var usage: UInt64?
        var limit: UInt64?
    }
    struct PidsStats: Decodable {
        var current: Int?
    }
    struct NetworkStats: Decodable {
        var rxBytes: UInt64?
        var txBytes: UInt64?
        enum CodingKeys: String, CodingKey { case rxBytes = "rx_bytes", txBytes = "tx_bytes" }
    }
    var read: String?
    var cpuStats: CPUStats?
    var memoryStats: MemoryStats?
    var pidsStats: PidsStats?
    var networks: [String: NetworkStats]?
    enum CodingKeys: String, CodingKey {
        case read, cpuStats = "cpu_stats", memoryStats = "memory_stats", pidsStats = "pids_stats", networks
    }
}

struct NetworkCreateBody: Encodable {
    struct IPAMConfig: Codable {
        var subnet: String?
        var gateway: String?
        enum CodingKeys: String, CodingKey { case subnet = "Subnet", gateway = "Gateway" }
    }
    struct IPAM: Encodable {
        var driver: String
        var config: [IPAMConfig]
        enum CodingKeys: String, CodingKey { case driver = "Driver", config = "Config" }
    }
    var name: String
    var driver: String
    var checkDuplicate: Bool
    var `internal`: Bool
    var labels: [String: String]
    var ipam: IPAM
    var options: [String: String]
    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", checkDuplicate = "CheckDuplicate", `internal` = "Internal"
        case labels = "Labels", ipam = "IPAM", options = "Options"
    }
}

struct NetworkBody: Decodable {
    struct IPAM: Decodable {
        var config: [NetworkCreateBody.IPAMConfig]?
        enum CodingKeys: String, CodingKey { case config = "Config" }
    }
    var name: String
    var id: String
    var driver: String?
    var `internal`: Bool?
    var labels: [String: String]?
    var ipam: IPAM?
    var options: [String: String]?
    enum CodingKeys: String, CodingKey {
        case name = "Name", id = "Id", driver = "Driver", `internal` = "Internal", labels = "Labels"
        case ipam = "IPAM", options = "Options"
    }
}

struct ImageListItem: Decodable {
    var id: String
    var repoTags: [String]?
    var size: Int64?
    var created: Int64?
    var containers: Int?
    enum CodingKeys: String, CodingKey {
        case id = "Id", repoTags = "RepoTags", size = "Size", created = "Created", containers = "Containers"
    }
}

struct ImageInspectBody: Decodable {
    var id: String
    var repoTags: [String]?
    var size: Int64?
    var created: String?
    enum CodingKeys: String, CodingKey { case id = "Id", repoTags = "RepoTags", size = "Size", created = "Created" }
}

/// The progress lines of `POST /images/create` (one JSON object per line).
struct ImageCreateProgress: Decodable {
    var status: String?
    var id: String?
    var error: String?
    var message: String?
}

enum EngineTimestamp {
    /// The engine's RFC 3339 times carry up to nanoseconds, which ISO8601DateFormatter does
    /// not read; the zero time ("0001-01-01T00:00:00Z") means "never".
    static func parse(_ text: String?) -> Date? {
        guard let text, !text.isEmpty, !text.hasPrefix("0001-01-01") else { return nil }
        var whole = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            let afterDot = text[text.index(after: dot)...]
            let digits = afterDot.prefix { $0.isNumber }
            fraction = Double("0." + digits) ?? 0
            whole = String(text[..<dot]) + String(afterDot.dropFirst(digits.count))
        }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: whole) else { return nil }
        return date.addingTimeInterval(fraction)
    }
}
