import Foundation
import Logging
import NimbusGRPC
import NimbusHTTP
import NimbusPlatform
import NimbusProto
import NimbusProtoJSON
import NimbusRPCCore
import NimbusService
import ServiceLifecycle
import Synchronization

public enum GatewayServiceDefinition: ServiceDefinition {
    public static let executableName = "nimbus-gateway"
    public static let abstract = "The front door: REST/JSON and gRPC for external clients."
    public static let schema: String? = nil
    public static let defaultPort = 8080
    public static let databaseURLEnvironment = "NIMBUS_GATEWAY_DATABASE_URL"

    /// The upstream families: which services each serves and where it listens by default
    /// (`NIMBUS_<NAME>_ENDPOINTS` overrides, comma-separated for replicas).
    struct Upstream {
        var name: String
        var defaultPort: Int
        var package: String
        var files: [ProtoFileDescriptor]
    }

    static var upstreams: [Upstream] {
        [
            Upstream(name: "identity", defaultPort: 7001, package: "nimbus.identity.v1.", files: IdentityV1.UsersMethods.fileDescriptors),
            Upstream(name: "compute", defaultPort: 7002, package: "nimbus.compute.v1.", files: ComputeV1.InstancesMethods.fileDescriptors),
        ]
    }

    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts {
        let settings = try GatewaySettings.resolve(environment.configSource)
        let signer = try environment.principalSigner()
        var files: [ProtoFileDescriptor] = []
        var channels: [String: GRPCChannel] = [:]
        var transports: [String: any RPCClientTransport] = [:]
        let descriptors: DescriptorSet
        do {
            descriptors = try DescriptorSet(upstreams.flatMap(\.files))
        } catch {
            throw ConfigError(setting: "descriptors", problem: "\(error)")
        }
        for upstream in upstreams {
            let endpoints = try environment.endpoints(of: upstream.name, defaultPort: upstream.defaultPort)
            var configuration = GRPCChannel.Configuration(endpoints: endpoints.map { ClientEndpoint(host: $0.host, port: $0.port) })
            // One connection per server loop (at least two): a handler's upstream call then goes
            // out on a connection of its own loop (see ClientConnectionPool.callerLoop).
            let serverLoops = environment.config.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : environment.config.threads
            configuration.connectionsPerEndpoint = max(2, serverLoops)
            let channel = try GRPCChannel(configuration: configuration)
            channels[upstream.name] = channel
            files.append(contentsOf: upstream.files)
            for service in descriptors.services.keys where service.hasPrefix(upstream.package) {
                transports[service] = channel
            }
        }
        guard let identity = channels["identity"] else {
            throw ConfigError(setting: "NIMBUS_IDENTITY_ENDPOINTS", problem: "the gateway needs identity")
        }
        let servicePrincipal = ServicePrincipalToken(signer: signer)
        let watcher = settings.usesAuthLease
            ? AuthEpochWatcher(transport: identity, logger: environment.logger) { servicePrincipal.current() } : nil
        let gateway = try Gateway(
            configuration: settings.configuration, descriptors: descriptors, upstreams: transports,
            authenticator: settings.authenticator(IdentityAuthenticator(transport: identity) { servicePrincipal.current() }, watcher: watcher),
            limits: settings.rateLimits, logger: environment.logger, version: NimbusVersion.current)
        environment.logger.info("gateway routes", metadata: [
            "routes": "\(gateway.router.routes.count)", "services": "\(transports.count)",
        ])
        // Ready while identity answers: every request is authenticated there (or under a lease
        // it grants). Other upstreams are not required: one family down must not take the
        // whole front door out of rotation — its calls fail with UNAVAILABLE on their own.
        let identityHealth = GrpcHealthV1.HealthClient(transport: identity, defaultOptions: CallOptions(timeout: .seconds(1)))
        // S3 passes through to storage's own HTTP port (streamed, never buffered here).
        let passThrough = try settings.storageHTTP.map { text in
            do {
                return UpstreamPassThrough(client: try HTTP1Client(address: try SocketAddress(parsing: text)), logger: environment.logger)
            } catch {
                throw ConfigError(setting: "NIMBUS_GATEWAY_STORAGE_HTTP", problem: "'\(text)': \(error)")
            }
        }
        return ServiceParts(services: gateway.proxyServices(fileDescriptors: files),
                            streaming: gateway.streamingHandler(passThrough: passThrough, recognizer: settings.s3Recognizer),
                            background: watcher.map { [AuthLeaseService(watcher: $0)] } ?? [],
                            readinessChecks: [{ (try? await identityHealth.check(GrpcHealthV1.HealthCheckRequest()))?.status == .serving }])
    }
}

/// The gateway's own signed principal for Authenticate, re-signed at half its lifetime.
final class ServicePrincipalToken: Sendable {
    private let signer: PrincipalSigner
    private let state = Mutex<(token: [UInt8], signedAt: ContinuousClock.Instant)?>(nil)

    init(signer: PrincipalSigner) { self.signer = signer }

    func current() -> [UInt8] {
        state.withLock { state in
            let now = ContinuousClock.now
            if let state, now - state.signedAt < signer.lifetime / 2 { return state.token }
            let token = signer.sign(.service("nimbus-gateway"))
            state = (token, now)
            return token
        }
    }
}

/// Keeps the auth epoch watch (and with it the gateway's auth lease) running.
struct AuthLeaseService: Service {
    let watcher: AuthEpochWatcher

    func run() async throws {
        await cancelWhenGracefulShutdown { await watcher.run() }
    }
}
