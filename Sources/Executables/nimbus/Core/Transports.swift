import NimbusRPCCore

/// The gRPC channel to the gateway.
enum Transports {
    static func make(_ endpoint: GatewayEndpoint) throws -> any RPCClientTransport {
        throw CLIError.failed("the gRPC client channel is not part of this build yet")
    }
}
