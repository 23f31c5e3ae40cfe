import Foundation
import NimbusProto

/// Domain values ↔ generated proto messages.
enum Convert {
    static let states: [InstanceState: ComputeV1.InstanceState] = [
        .pending: .pending, .running: .running, .stopping: .stopping, .stopped: .stopped, .starting: .starting,
        .rebooting: .rebooting, .terminating: .terminating, .terminated: .terminated, .error: .error,
    ]

    static func state(_ state: ComputeV1.InstanceState) -> InstanceState? {
        states.first { $0.value == state }?.key
    }

    static func port(_ port: InstancePort, hostIP: String = "") -> ComputeV1.PortMapping {
        var out = ComputeV1.PortMapping()
        out.containerPort = Int32(port.containerPort)
        out.protocol = port.protocol
        out.hostPort = Int32(port.hostPort)
        out.hostIp = hostIP
        return out
    }

    static func port(_ port: ComputeV1.PortMapping) -> InstancePort {
        InstancePort(containerPort: Int(port.containerPort), protocol: port.protocol, hostPort: Int(port.hostPort))
    }

    /// `env` is the environment as the caller may see it (`ComputeCore.visibleEnvironment`).
    static func instance(_ instance: Instance, env: [String: String]) -> ComputeV1.Instance {
        var out = ComputeV1.Instance()
        out.id = instance.id
        out.tenantId = instance.tenantID
        out.name = instance.name
        out.image = instance.imageName
        out.instanceType = instance.instanceType
        out.vpcId = instance.vpcID ?? ""
        out.state = states[instance.state] ?? .unspecified
        out.stateReason = instance.machine.reason
        if let code = instance.machine.exitCode {
            out.hasExitCode = true
            out.exitCode = Int32(clamping: code)
        }
        out.command = instance.command
        out.env = env
        out.ports = instance.ports.map { port($0) }
        out.published = instance.published.map { port($0, hostIP: "127.0.0.1") }
        out.labels = instance.labels
        out.privateIp = instance.privateIP
        out.vcpus = Int32(instance.vcpus)
        out.memoryMb = Int32(instance.memoryMB)
        out.version = instance.version
        out.createTime = instance.createdAt
        out.updateTime = instance.updatedAt
        out.launchTime = instance.launchedAt
        return out
    }

    static func launch(_ request: ComputeV1.LaunchInstanceRequest) -> LaunchRequest {
        LaunchRequest(
            name: request.name, image: request.image, instanceType: request.instanceType, command: request.command,
            env: request.env, ports: request.ports.map(port), vpcID: request.vpcId.isEmpty ? nil : request.vpcId,
            labels: request.labels, clientToken: request.clientToken)
    }

    static func instanceType(_ type: InstanceType) -> ComputeV1.InstanceType {
        var out = ComputeV1.InstanceType()
        out.id = type.id
        out.name = type.name
        out.vcpus = Int32(type.vcpus)
        out.memoryMb = Int32(type.memoryMB)
        out.diskGb = Int32(type.diskGB)
        out.networkMbps = Int32(type.networkMbps)
        out.pricePerHour = type.pricePerHour
        out.category = type.category
        return out
    }

    static func image(_ image: ComputeImage) -> ComputeV1.Image {
        var out = ComputeV1.Image()
        out.id = image.id
        out.tenantId = image.tenantID ?? ""
        out.name = image.name
        out.description = image.description
        out.sizeBytes = image.sizeBytes
        out.createTime = image.createdAt
        return out
    }

    static func vpc(_ vpc: VPC) -> ComputeV1.Vpc {
        var out = ComputeV1.Vpc()
        out.id = vpc.id
        out.tenantId = vpc.tenantID
        out.name = vpc.name
        out.cidr = vpc.cidr
        out.version = vpc.version
        out.createTime = vpc.createdAt
        return out
    }
}
