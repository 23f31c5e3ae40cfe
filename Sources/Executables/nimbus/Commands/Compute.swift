import ArgumentParser
import NimbusGateway

// Compute commands arrive with compute's protos (nimbus.compute.v1).
struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "instances", abstract: "Compute instances (containers).")
}

struct TypesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "types", abstract: "Instance types.")
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "Images instances boot from.")
}

struct VPCsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vpcs", abstract: "Virtual private clouds (networks).")
}
