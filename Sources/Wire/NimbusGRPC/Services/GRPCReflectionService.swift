import Foundation
import NimbusProto
import NimbusRPCCore

/// `grpc.reflection.v1.ServerReflection`: list services, file by filename, file containing a
/// symbol. Extension queries answer NOT_FOUND (Nimbus protos declare no extensions).
public struct GRPCReflectionService: GrpcReflectionV1.ServerReflectionService {
    let index: ReflectionIndex

    /// `services`: everything the server hosts (include the health and reflection services so
    /// clients can discover them too).
    public init(services: [any RPCService]) {
        index = ReflectionIndex(services: services)
    }

    init(index: ReflectionIndex) { self.index = index }

    public func serverReflectionInfo(_ requests: RPCMessageStream<GrpcReflectionV1.ServerReflectionRequest>,
                                     responses: RPCMessageWriter<GrpcReflectionV1.ServerReflectionResponse>,
                                     context: ServerContext) async throws {
        for try await request in requests {
            var response = GrpcReflectionV1.ServerReflectionResponse(validHost: request.host, originalRequest: request)
            switch request.messageRequest {
            case .listServices?:
                response.messageResponse = .listServicesResponse(.init(service: index.serviceNames.map { .init(name: $0) }))
            case .fileByFilename(let name)?:
                response.messageResponse = Self.files(index.fileWithDependencies(name), missing: "file \(name) not found")
            case .fileContainingSymbol(let symbol)?:
                response.messageResponse = Self.files(index.fileContaining(symbol: symbol), missing: "symbol \(symbol) not found")
            case .fileContainingExtension(let e)?:
                response.messageResponse = .errorResponse(.init(errorCode: Int32(RPCCode.notFound.rawValue),
                                                                errorMessage: "extension \(e.containingType)(\(e.extensionNumber)) not found"))
            case .allExtensionNumbersOfType(let type)?:
                response.messageResponse = index.fileContaining(symbol: type) == nil
                    ? .errorResponse(.init(errorCode: Int32(RPCCode.notFound.rawValue), errorMessage: "type \(type) not found"))
                    : .allExtensionNumbersResponse(.init(baseTypeName: type, extensionNumber: []))
            case nil:
                response.messageResponse = .errorResponse(.init(errorCode: Int32(RPCCode.invalidArgument.rawValue), errorMessage: "empty request"))
            }
            try await responses.write(response)
        }
    }

    private static func files(_ files: [[UInt8]]?, missing: String) -> GrpcReflectionV1.ServerReflectionResponse.MessageResponse {
        guard let files else {
            return .errorResponse(.init(errorCode: Int32(RPCCode.notFound.rawValue), errorMessage: missing))
        }
        return .fileDescriptorResponse(.init(fileDescriptorProto: files.map { Data($0) }))
    }
}

/// `grpc.reflection.v1alpha.ServerReflection`, which older tools (grpcurl, grpcio-reflection
/// clients) still call: the same answers through the v1alpha types.
public struct GRPCReflectionServiceV1Alpha: GrpcReflectionV1alpha.ServerReflectionService {
    let index: ReflectionIndex

    public init(services: [any RPCService]) {
        index = ReflectionIndex(services: services)
    }

    public func serverReflectionInfo(_ requests: RPCMessageStream<GrpcReflectionV1alpha.ServerReflectionRequest>,
                                     responses: RPCMessageWriter<GrpcReflectionV1alpha.ServerReflectionResponse>,
                                     context: ServerContext) async throws {
        // v1 and v1alpha share field numbers, so the bytes translate directly.
        let v1 = GRPCReflectionService(index: index)
        try await v1.serverReflectionInfo(
            requests.map { try GrpcReflectionV1.ServerReflectionRequest(serializedBytes: $0.serializedBytes()) },
            responses: responses.map { try GrpcReflectionV1alpha.ServerReflectionResponse(serializedBytes: $0.serializedBytes()) },
            context: context)
    }
}
