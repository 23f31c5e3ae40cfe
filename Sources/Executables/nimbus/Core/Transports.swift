import NimbusGRPC
import NimbusRPCCore

/// The gRPC channel to the gateway: h2c for http://, TLS with ALPN h2 for https://.
enum Transports {
    static func make(_ endpoint: GatewayEndpoint) throws -> any RPCClientTransport {
        var configuration = GRPCChannel.Configuration(
            endpoints: [ClientEndpoint(host: endpoint.host, port: endpoint.port)],
            tls: endpoint.tls ? GRPCChannel.TLS(caFile: ProcessInfoEnvironment.value("NIMBUS_CA_FILE")) : nil)
        configuration.connectionsPerEndpoint = 1
        configuration.connectTimeout = .seconds(5)
        configuration.userAgent = "nimbus-cli/1"
        do {
            return try GRPCChannel(configuration: configuration)
        } catch {
            throw CLIError.configuration("cannot reach \(endpoint.hostPort): \(error)")
        }
    }
}
