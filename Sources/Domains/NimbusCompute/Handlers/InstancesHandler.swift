import Foundation
import NimbusContainers
import NimbusPlatform
import NimbusProto
import NimbusRPCCore

/// nimbus.compute.v1.Instances over the core: verify the principal, convert, delegate.
struct InstancesHandler: ComputeV1.InstancesService {
    let core: ComputeCore
    let signer: PrincipalSigner

    /// The instance as `caller` may see it (environment values only with instance:manage).
    private func visible(_ instance: Instance, to caller: Principal) throws -> ComputeV1.Instance {
        Convert.instance(instance, env: try core.visibleEnvironment(caller, instance))
    }

    func launchInstance(_ request: ComputeV1.LaunchInstanceRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        let caller = try context.principal(signer)
        return try visible(try await core.launch(caller, Convert.launch(request)), to: caller)
    }

    func getInstance(_ request: ComputeV1.GetInstanceRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        let caller = try context.principal(signer)
        return try visible(try await core.instance(caller, id: request.id), to: caller)
    }

    func listInstances(_ request: ComputeV1.ListInstancesRequest, context: ServerContext) async throws -> ComputeV1.ListInstancesResponse {
        let filter = InstanceFilter(
            state: request.state == .unspecified ? nil : Convert.state(request.state), vpcID: request.vpcId.isEmpty ? nil : request.vpcId,
            name: request.name.isEmpty ? nil : request.name, labels: request.labels, includeTerminated: request.includeTerminated)
        let caller = try context.principal(signer)
        let page = try await core.instances(caller, filter: filter, pageSize: Int(request.pageSize), pageToken: request.pageToken)
        var response = ComputeV1.ListInstancesResponse()
        response.instances = try page.items.map { try visible($0, to: caller) }
        response.nextPageToken = page.nextPageToken
        return response
    }

    private func command(_ command: InstanceCommand, _ request: ComputeV1.InstanceActionRequest, _ context: ServerContext) async throws -> ComputeV1.Instance {
        let caller = try context.principal(signer)
        return try visible(try await core.command(caller, command, id: request.id, expectedVersion: request.version), to: caller)
    }

    func stopInstance(_ request: ComputeV1.InstanceActionRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        try await command(.stop, request, context)
    }

    func startInstance(_ request: ComputeV1.InstanceActionRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        try await command(.start, request, context)
    }

    func rebootInstance(_ request: ComputeV1.InstanceActionRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        try await command(.reboot, request, context)
    }

    func terminateInstance(_ request: ComputeV1.InstanceActionRequest, context: ServerContext) async throws -> ComputeV1.Instance {
        try await command(.terminate, request, context)
    }

    func streamInstanceLogs(_ request: ComputeV1.StreamInstanceLogsRequest, responses: RPCMessageWriter<ComputeV1.LogChunk>, context: ServerContext) async throws {
        let stream = try await core.logs(try context.principal(signer), id: request.id, follow: request.follow, tail: Int(request.tailLines))
        for try await chunk in stream {
            var out = ComputeV1.LogChunk()
            out.stream = chunk.stream == .stderr ? .stderr : .stdout
            out.data = chunk.data
            try await responses.write(out)
        }
    }

    func getInstanceStats(_ request: ComputeV1.GetInstanceStatsRequest, context: ServerContext) async throws -> ComputeV1.InstanceStats {
        let (stats, cpu) = try await core.stats(try context.principal(signer), id: request.id)
        var out = ComputeV1.InstanceStats()
        out.instanceId = request.id
        out.cpuPercent = cpu
        out.cpuTotalNs = stats.cpuTotalNanos
        out.memoryUsageBytes = stats.memoryUsageBytes
        out.memoryLimitBytes = stats.memoryLimitBytes
        out.pids = Int32(clamping: stats.pids)
        out.networkRxBytes = stats.networkRxBytes
        out.networkTxBytes = stats.networkTxBytes
        out.readTime = stats.readAt
        return out
    }
}

struct InstanceTypesHandler: ComputeV1.InstanceTypesService {
    let core: ComputeCore
    let signer: PrincipalSigner

    func listInstanceTypes(_ request: ComputeV1.ListInstanceTypesRequest, context: ServerContext) async throws -> ComputeV1.ListInstanceTypesResponse {
        var response = ComputeV1.ListInstanceTypesResponse()
        response.instanceTypes = try await core.instanceTypes(try context.principal(signer)).map(Convert.instanceType)
        return response
    }

    func getInstanceType(_ request: ComputeV1.GetInstanceTypeRequest, context: ServerContext) async throws -> ComputeV1.InstanceType {
        Convert.instanceType(try await core.instanceType(try context.principal(signer), id: request.id))
    }
}

struct VpcsHandler: ComputeV1.VpcsService {
    let core: ComputeCore
    let signer: PrincipalSigner

    func createVpc(_ request: ComputeV1.CreateVpcRequest, context: ServerContext) async throws -> ComputeV1.Vpc {
        Convert.vpc(try await core.createVPC(try context.principal(signer), name: request.name, cidr: request.cidr))
    }

    func getVpc(_ request: ComputeV1.GetVpcRequest, context: ServerContext) async throws -> ComputeV1.Vpc {
        Convert.vpc(try await core.vpc(try context.principal(signer), id: request.id))
    }

    func listVpcs(_ request: ComputeV1.ListVpcsRequest, context: ServerContext) async throws -> ComputeV1.ListVpcsResponse {
        let page = try await core.vpcs(try context.principal(signer), pageSize: Int(request.pageSize), pageToken: request.pageToken)
        var response = ComputeV1.ListVpcsResponse()
        response.vpcs = page.items.map(Convert.vpc)
        response.nextPageToken = page.nextPageToken
        return response
    }

    func deleteVpc(_ request: ComputeV1.DeleteVpcRequest, context: ServerContext) async throws -> ComputeV1.DeleteVpcResponse {
        try await core.deleteVPC(try context.principal(signer), id: request.id)
        return ComputeV1.DeleteVpcResponse()
    }
}

struct ImagesHandler: ComputeV1.ImagesService {
    let core: ComputeCore
    let signer: PrincipalSigner

    /// Spools the upload to a private temporary file (bounded), then imports it.
    func importImage(_ requests: RPCMessageStream<ComputeV1.ImportImageRequest>, context: ServerContext) async throws -> ComputeV1.Image {
        let principal = try context.principal(signer)
        try principal.require(.instanceManage)
        var metadata: ComputeV1.ImportImageMetadata?
        let path = NSTemporaryDirectory() + "nimbus-image-\(UUID().uuidString).tar"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let file = FileHandle(forWritingAtPath: path)
        else { throw ComputeError(.internal, "cannot spool the upload") }
        defer {
            try? file.close()
            try? FileManager.default.removeItem(atPath: path)
        }
        var size: Int64 = 0
        for try await request in requests {
            switch request.part {
            case .metadata(let value)?:
                guard metadata == nil, size == 0 else { throw ComputeError.invalid("metadata must come once, first") }
                metadata = value
            case .chunk(let data)?:
                guard metadata != nil else { throw ComputeError.invalid("the first message must carry the metadata") }
                size += Int64(data.count)
                guard size <= ComputeCore.maxImageBytes else { throw ComputeError(.resourceExhausted, "the image is larger than \(ComputeCore.maxImageBytes) bytes") }
                try file.write(contentsOf: data)
            case nil:
                throw ComputeError.invalid("an empty message")
            }
        }
        guard let metadata else { throw ComputeError.invalid("no metadata") }
        guard size > 0 else { throw ComputeError.invalid("no image bytes") }
        try file.synchronize()
        return Convert.image(try await core.importImage(principal, name: metadata.name, description: metadata.description, tarballPath: path))
    }

    func listImages(_ request: ComputeV1.ListImagesRequest, context: ServerContext) async throws -> ComputeV1.ListImagesResponse {
        let page = try await core.images(try context.principal(signer), pageSize: Int(request.pageSize), pageToken: request.pageToken)
        var response = ComputeV1.ListImagesResponse()
        response.images = page.items.map(Convert.image)
        response.nextPageToken = page.nextPageToken
        return response
    }

    func getImage(_ request: ComputeV1.GetImageRequest, context: ServerContext) async throws -> ComputeV1.Image {
        Convert.image(try await core.image(try context.principal(signer), id: request.id))
    }

    func deleteImage(_ request: ComputeV1.DeleteImageRequest, context: ServerContext) async throws -> ComputeV1.DeleteImageResponse {
        try await core.deleteImage(try context.principal(signer), id: request.id)
        return ComputeV1.DeleteImageResponse()
    }
}
