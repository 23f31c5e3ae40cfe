import ArgumentParser
import Foundation
import NimbusProtoJSON
import NimbusRPCCore

enum ComputeServices {
    static let instances = "nimbus.compute.v1.Instances"
    static let types = "nimbus.compute.v1.InstanceTypes"
    static let images = "nimbus.compute.v1.Images"
    static let vpcs = "nimbus.compute.v1.Vpcs"
}

/// `--wait`: polls an instance until it reaches a state, with a progress line on stderr.
struct WaitOptions: ParsableArguments {
    @Flag(help: "Wait until the operation has finished.") var wait = false
    @Option(help: "Give up waiting after this many seconds.") var waitTimeout: Double = 300

    /// Polls GetInstance until `done` says yes; throws when it reaches `failed` states.
    func waitFor(_ api: APIClient, id: String, target: String, goneIsDone: Bool = false) async throws -> JSONValue? {
        let spinner = Spinner()
        let deadline = ContinuousClock.now + .milliseconds(Int64(waitTimeout * 1000))
        var last: JSONValue?
        while ContinuousClock.now < deadline {
            do {
                let instance = try await api.call(ComputeServices.instances, "GetInstance", ["id": .string(id)])
                last = instance
                let state = InstancesCommand.shortState(instance["state"])
                if state == target {
                    spinner.finish("instance \(id) is \(state)")
                    return instance
                }
                if state == "ERROR" || (state == "TERMINATED" && target != "TERMINATED") {
                    spinner.finish("instance \(id) is \(state)")
                    throw CLIError.failed("instance \(id) ended \(state): \(instance["stateReason"]?.stringValue ?? "no reason given")")
                }
                spinner.update("waiting for \(id) to be \(target) (now \(state))")
            } catch let error as RPCError where error.code == .notFound && goneIsDone {
                spinner.finish("instance \(id) is gone")
                return last
            }
            try await Task.sleep(for: .milliseconds(400))
        }
        spinner.finish("gave up waiting")
        throw CLIError.failed("instance \(id) did not become \(target) within \(Int(waitTimeout))s")
    }
}

struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instances", abstract: "Compute instances (containers).",
        subcommands: [Launch.self, Get.self, List.self, Stop.self, Start.self, Reboot.self, Terminate.self, Logs.self, Stats.self])

    static func shortState(_ value: JSONValue?) -> String {
        let text = Render.text(value)
        return text.hasPrefix("INSTANCE_STATE_") ? String(text.dropFirst("INSTANCE_STATE_".count)) : text
    }

    static func ports(_ value: JSONValue?) -> String {
        guard case .array(let ports)? = value, !ports.isEmpty else { return "-" }
        return ports.map { port in
            let host = port["hostPort"].map { Render.text($0) } ?? "?"
            let ip = port["hostIp"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            let proto = port["protocol"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "tcp"
            return "\(ip.map { "\($0):" } ?? "")\(host)->\(Render.text(port["containerPort"]))/\(proto)"
        }.joined(separator: ",")
    }

    static let columns = [
        Column("ID", "id"), Column("NAME", "name"), Column.enumName("STATE", "state", prefix: "INSTANCE_STATE_"),
        Column("TYPE", "instanceType"), Column("IMAGE", "image"), Column("IP", "privateIp"),
        Column("PORTS", "published", format: InstancesCommand.ports), Column("CREATED", "createTime"),
    ]

    static func show(_ instance: JSONValue, _ api: APIClient) {
        if api.settings.output == .json { return Render.one(instance, format: .json) }
        Render.many([instance], columns: columns, format: .table)
    }

    struct Launch: APICommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch an instance.",
            discussion: "Example: nimbus instances launch --name web --image busybox --type basic-1 --port 8080 --wait -- httpd -f -p 8080 -h /www")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var waiting: WaitOptions
        @Option(help: "Instance name.") var name: String
        @Option(help: "Image to run.") var image: String
        @Option(help: "Instance type (see `nimbus types list`).") var type: String?
        @Option(help: "Environment variable KEY=VALUE (repeat the option).") var env: [String] = []
        @Option(help: "Publish a port: CONTAINER[:HOST][/tcp|udp] (repeat the option).") var port: [String] = []
        @Option(help: "Label KEY=VALUE (repeat the option).") var label: [String] = []
        @Option(help: "VPC id.") var vpc: String?
        @Option(help: "Idempotency token (default: a new one per run).") var clientToken: String?
        @Argument(parsing: .postTerminator, help: "Command and arguments to run instead of the image's.") var command: [String] = []

        func pairs(_ values: [String], _ option: String) throws -> JSONValue {
            var object = JSONObject()
            for value in values {
                guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                    throw CLIError.usage("--\(option) \(value): expected KEY=VALUE")
                }
                object[String(value[..<equals])] = .string(String(value[value.index(after: equals)...]))
            }
            return .object(object)
        }

        func portMappings() throws -> JSONValue {
            .array(try port.map { text in
                var spec = Substring(text)
                var proto = "tcp"
                if let slash = spec.firstIndex(of: "/") {
                    proto = String(spec[spec.index(after: slash)...])
                    spec = spec[..<slash]
                }
                let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
                guard (1...2).contains(parts.count), let container = Int(parts[0]), (1...65535).contains(container),
                      ["tcp", "udp"].contains(proto) else {
                    throw CLIError.usage("--port \(text): expected CONTAINER[:HOST][/tcp|udp]")
                }
                var mapping: JSONObject = ["container_port": .integer(container), "protocol": .string(proto)]
                if parts.count == 2 {
                    guard let host = Int(parts[1]), (0...65535).contains(host) else { throw CLIError.usage("--port \(text): bad host port") }
                    mapping["host_port"] = .integer(host)
                }
                return .object(mapping)
            })
        }

        func execute(_ api: APIClient) async throws {
            var request: JSONObject = [
                "name": .string(name), "image": .string(image), "env": try pairs(env, "env"),
                "labels": try pairs(label, "label"), "ports": try portMappings(),
                "command": .array(command.map { .string($0) }),
                "client_token": .string(clientToken ?? UUID().uuidString.lowercased()),
            ]
            request.set("instance_type", type)
            request.set("vpc_id", vpc)
            var instance = try await api.call(ComputeServices.instances, "LaunchInstance", request)
            if waiting.wait, let id = instance["id"]?.stringValue {
                instance = try await waiting.waitFor(api, id: id, target: "RUNNING") ?? instance
            }
            InstancesCommand.show(instance, api)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show an instance.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Instance id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(ComputeServices.instances, "GetInstance", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List instances.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Option(help: "Only this state, e.g. RUNNING.") var state: String?
        @Option(help: "Only this name.") var name: String?
        @Option(help: "Only this VPC.") var vpc: String?
        @Flag(help: "Include terminated instances.") var includeTerminated = false
        func execute(_ api: APIClient) async throws {
            var request = JSONObject()
            if let state { request["state"] = .string(state.hasPrefix("INSTANCE_STATE_") ? state : "INSTANCE_STATE_" + state.uppercased()) }
            request.set("name", name)
            request.set("vpc_id", vpc)
            if includeTerminated { request["include_terminated"] = .bool(true) }
            let (items, next) = try await api.list(ComputeServices.instances, "ListInstances", request, itemsField: "instances", page: page)
            Render.many(items, columns: InstancesCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    /// stop / start / reboot / terminate share their shape.
    struct Action {
        static func run(_ api: APIClient, method: String, id: String, version: Int?, waiting: WaitOptions,
                        target: String, goneIsDone: Bool = false) async throws {
            var request: JSONObject = ["id": .string(id)]
            request.set("version", version.map { String($0) })
            var instance = try await api.call(ComputeServices.instances, method, request)
            if waiting.wait {
                instance = try await waiting.waitFor(api, id: id, target: target, goneIsDone: goneIsDone) ?? instance
            }
            InstancesCommand.show(instance, api)
        }
    }

    struct Stop: APICommand {
        static let configuration = CommandConfiguration(abstract: "Stop an instance.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var waiting: WaitOptions
        @Argument(help: "Instance id.") var id: String
        @Option(help: "The version you read (optimistic locking).") var version: Int?
        func execute(_ api: APIClient) async throws {
            try await Action.run(api, method: "StopInstance", id: id, version: version, waiting: waiting, target: "STOPPED")
        }
    }

    struct Start: APICommand {
        static let configuration = CommandConfiguration(abstract: "Start a stopped instance.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var waiting: WaitOptions
        @Argument(help: "Instance id.") var id: String
        @Option(help: "The version you read (optimistic locking).") var version: Int?
        func execute(_ api: APIClient) async throws {
            try await Action.run(api, method: "StartInstance", id: id, version: version, waiting: waiting, target: "RUNNING")
        }
    }

    struct Reboot: APICommand {
        static let configuration = CommandConfiguration(abstract: "Restart an instance.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var waiting: WaitOptions
        @Argument(help: "Instance id.") var id: String
        @Option(help: "The version you read (optimistic locking).") var version: Int?
        func execute(_ api: APIClient) async throws {
            try await Action.run(api, method: "RebootInstance", id: id, version: version, waiting: waiting, target: "RUNNING")
        }
    }

    struct Terminate: APICommand {
        static let configuration = CommandConfiguration(abstract: "Terminate an instance (its container is removed).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var waiting: WaitOptions
        @Argument(help: "Instance id.") var id: String
        @Option(help: "The version you read (optimistic locking).") var version: Int?
        func execute(_ api: APIClient) async throws {
            try await Action.run(api, method: "TerminateInstance", id: id, version: version, waiting: waiting,
                                 target: "TERMINATED", goneIsDone: true)
        }
    }

    struct Logs: APICommand {
        static let configuration = CommandConfiguration(abstract: "Print an instance's output.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Instance id.") var id: String
        @Option(help: "Only the last N lines.") var tail: Int?
        func execute(_ api: APIClient) async throws {
            var request: JSONObject = ["id": .string(id)]
            request.set("tail_lines", tail)
            let chunks = try await api.serverStream(ComputeServices.instances, "StreamInstanceLogs", request)
            for chunk in chunks {
                if let data = chunk["data"]?.stringValue, let bytes = Data(base64Encoded: data) {
                    if chunk["stream"]?.stringValue == "LOG_STREAM_STDERR" {
                        FileHandle.standardError.write(bytes)
                    } else {
                        FileHandle.standardOutput.write(bytes)
                    }
                }
            }
        }
    }

    struct Stats: APICommand {
        static let configuration = CommandConfiguration(abstract: "CPU, memory and network usage of an instance.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Instance id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(ComputeServices.instances, "GetInstanceStats", ["id": .string(id)]), format: api.settings.output)
        }
    }
}

struct TypesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "types", abstract: "Instance types.", subcommands: [List.self, Get.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("VCPUS", "vcpus"), Column("MEMORY MB", "memoryMb"),
                          Column("DISK GB", "diskGb"), Column("CATEGORY", "category"), Column("PRICE/H", "pricePerHour")]

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List instance types.")
        @OptionGroup var global: GlobalOptions
        func execute(_ api: APIClient) async throws {
            let response = try await api.call(ComputeServices.types, "ListInstanceTypes")
            guard case .array(let items)? = response["instanceTypes"] else { return }
            Render.many(items, columns: TypesCommand.columns, format: api.settings.output)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show an instance type.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Type id or name.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(ComputeServices.types, "GetInstanceType", ["id": .string(id)]), format: api.settings.output)
        }
    }
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "Images instances boot from.",
                                                    subcommands: [List.self, Get.self, Import.self, Delete.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("SIZE", "sizeBytes"), Column("DESCRIPTION", "description"),
                          Column("CREATED", "createTime")]

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List images.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        func execute(_ api: APIClient) async throws {
            let (items, next) = try await api.list(ComputeServices.images, "ListImages", [:], itemsField: "images", page: page)
            Render.many(items, columns: ImagesCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show an image.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Image id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(ComputeServices.images, "GetImage", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct Delete: APICommand {
        static let configuration = CommandConfiguration(abstract: "Delete an image.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Image id.") var id: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(ComputeServices.images, "DeleteImage", ["id": .string(id)])
            Terminal.note("deleted image \(id)")
        }
    }
}

struct VPCsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vpcs", abstract: "Virtual private clouds (networks).",
                                                    subcommands: [Create.self, Get.self, List.self, Delete.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("CIDR", "cidr"), Column("CREATED", "createTime")]

    struct Create: APICommand {
        static let configuration = CommandConfiguration(abstract: "Create a VPC.")
        @OptionGroup var global: GlobalOptions
        @Option var name: String
        @Option(help: "Address range, e.g. 10.20.0.0/24.") var cidr: String?
        func execute(_ api: APIClient) async throws {
            var request: JSONObject = ["name": .string(name)]
            request.set("cidr", cidr)
            Render.one(try await api.call(ComputeServices.vpcs, "CreateVpc", request), format: api.settings.output)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show a VPC.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VPC id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(ComputeServices.vpcs, "GetVpc", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List VPCs.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        func execute(_ api: APIClient) async throws {
            let (items, next) = try await api.list(ComputeServices.vpcs, "ListVpcs", [:], itemsField: "vpcs", page: page)
            Render.many(items, columns: VPCsCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    struct Delete: APICommand {
        static let configuration = CommandConfiguration(abstract: "Delete a VPC with no instances.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VPC id.") var id: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(ComputeServices.vpcs, "DeleteVpc", ["id": .string(id)])
            Terminal.note("deleted VPC \(id)")
        }
    }
}
