import NimbusProto
import NimbusRPCCore

/// `grpc.health.v1.Health` backed by a `HealthStatusProvider`.
public struct GRPCHealthService: GrpcHealthV1.HealthService {
    public let provider: HealthStatusProvider

    public init(provider: HealthStatusProvider) {
        self.provider = provider
    }

    public func check(_ request: GrpcHealthV1.HealthCheckRequest, context: ServerContext) async throws -> GrpcHealthV1.HealthCheckResponse {
        guard let status = provider.status(for: request.service) else {
            throw RPCError(.notFound, "unknown service \(request.service)")
        }
        return GrpcHealthV1.HealthCheckResponse(status: status)
    }

    public func list(_ request: GrpcHealthV1.HealthListRequest, context: ServerContext) async throws -> GrpcHealthV1.HealthListResponse {
        GrpcHealthV1.HealthListResponse(statuses: provider.all.mapValues { GrpcHealthV1.HealthCheckResponse(status: $0) })
    }

    /// Sends the current status, then each change, until the client goes away.
    public func watch(_ request: GrpcHealthV1.HealthCheckRequest, responses: RPCMessageWriter<GrpcHealthV1.HealthCheckResponse>,
                      context: ServerContext) async throws {
        for await status in provider.watch(request.service) {
            try await responses.write(GrpcHealthV1.HealthCheckResponse(status: status))
        }
        try Task.checkCancellation()
    }
}
