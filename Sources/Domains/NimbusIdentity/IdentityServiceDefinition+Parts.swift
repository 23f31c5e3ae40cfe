import Foundation
import Logging
import NimbusBackground
import NimbusPlatform
import NimbusPostgres
import NimbusService
import ServiceLifecycle

extension IdentityServiceDefinition {
    /// Identity's RPC services over its pool, the batched last-used writer, and — on an empty
    /// installation with `NIMBUS_BOOTSTRAP_EMAIL` set — the first admin, whose key is printed once.
    public static func makeParts(_ environment: ServiceEnvironment) async throws -> ServiceParts {
        let pool = try environment.requireDatabase(executableName)
        let core = IdentityCore(db: pool, signer: try environment.principalSigner(),
                                hasher: try PasswordHasher(parameters: .production), logger: environment.logger,
                                epochFeed: try authEpochFeed(pool.configuration, logger: environment.logger))
        if let email = environment.environment["NIMBUS_BOOTSTRAP_EMAIL"], !email.isEmpty,
           let result = try await core.bootstrap(email: email, password: nil, tenantSlug: "default", tenantName: "Default") {
            IdentityBootstrap.printResult(result)
        }
        let s3 = S3CredentialStore(pool: pool, cipher: try S3SecretCipher.fromEnvironment(environment.configSource))
        return ServiceParts(services: IdentityServices.all(core, s3: s3),
                            background: backgroundWork(core, pool: pool, logger: environment.logger) + [AuthEpochPoller(broadcaster: core.epochBroadcaster)])
    }
}

/// The auth epoch's change feed: LISTEN on the channel the epoch trigger NOTIFYs (with the new
/// epoch as payload; see the identity migrations), on a connection of its own.
func authEpochFeed(_ configuration: PostgresConfiguration, logger: Logger) throws -> AuthEpochFeed {
    let listener = try PostgresListener(configuration: configuration, channels: ["nimbus_identity_auth"])
    return { deliver in
        for await event in listener.events() {
            switch event {
            case .connected:
                deliver(.listening)
            case .notification(_, let payload):
                if let epoch = Int64(payload) { deliver(.epoch(epoch)) }
            case .disconnected(let reason):
                logger.warning("auth epoch feed down; polling until it is back", metadata: ["reason": "\(reason)"])
                deliver(.lost)
            }
        }
    }
}

extension BackgroundSchema {
    /// identity.worker_leases and identity.outbox (Migrations/identity/0004).
    static let identity = BackgroundSchema(schema: "identity", service: "nimbus-identity")
}

/// Identity's background work: every replica writes its API keys' last-used times every few
/// seconds (and once more at shutdown), so Authenticate never writes per request; one replica
/// at a time (the `housekeeping` lease) forgets expired auth watchers and login-failure counters.
func backgroundWork(_ core: IdentityCore, pool: PostgresPool, logger: Logger, lastUsedPeriod: Duration = .seconds(5),
                    housekeepingPeriod: Duration = .seconds(60)) -> [any Service] {
    [
        PeriodicWorker(name: "last-used", interval: lastUsedPeriod, logger: logger, onStop: { await core.flushLastUsed() }) {
            await core.flushLastUsed()
            return .idle
        },
        PeriodicWorker(name: "housekeeping", interval: housekeepingPeriod,
                       lease: LeaderLease(pool: pool, schema: .identity, name: "housekeeping", ttl: housekeepingPeriod * 3),
                       logger: logger) {
            await core.pruneAuthWatchers()
            await core.pruneLoginFailures()
            return .idle
        },
    ]
}

/// Follows the auth epoch for this replica's `WatchAuthEpoch` streams (idle without watchers).
struct AuthEpochPoller: Service {
    let broadcaster: AuthEpochBroadcaster

    func run() async throws {
        await cancelWhenGracefulShutdown { await broadcaster.run() }
    }
}
