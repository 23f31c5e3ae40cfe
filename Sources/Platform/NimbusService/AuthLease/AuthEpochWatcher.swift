import Foundation
import Logging
import Metrics
import NimbusPlatform
import NimbusProto
import NimbusRPCCore
import Synchronization

/// A cache holder's side of identity's auth leases (the gateway's `LeasedAuthenticator`,
/// storage's S3 signing keys): keeps one `WatchAuthEpoch` stream open, acknowledges every
/// epoch it hears (`AckAuthEpoch`), and says which epoch cached answers must carry to be
/// usable right now — none unless the stream is up, the latest epoch heard is the one
/// acknowledged, and the lease from that ack still runs. Identity makes every change that bumps
/// the epoch (revocation, rotation, deactivation, membership and role changes) wait until each
/// live lease holder has acknowledged it, so an answer cached under an older epoch is never
/// used after such a change answered. One mechanism, in NimbusService, for every holder.
///
/// The local lease clock starts *before* the ack is sent and ends a margin short of the lease
/// identity granted; identity starts its own clock when it records the ack, later. So the
/// gateway always stops trusting its cache before identity stops waiting for it.
public final class AuthEpochWatcher: Sendable {

    struct State {
        /// The newest epoch heard from identity (stream or ack answer).
        var seen: Int64 = -1
        /// The epoch of the last granted ack, and until when that lease runs here.
        var acked: Int64 = -1
        var leaseEnds: ContinuousClock.Instant?
        var streaming = false
    }

    let transport: any RPCClientTransport
    let servicePrincipal: @Sendable () -> [UInt8]
    let logger: Logger
    public let watcherID: String
    private let state = Mutex(State())
    /// 1 while a lease is held (as of the last ack or stream change), else 0.
    private let leaseGauge: Gauge

    /// `holder` names the kind of process in its watcher id (`gateway`, `storage`); the gauge
    /// `nimbus_<holder>_auth_lease` says whether it holds a lease.
    public init(transport: any RPCClientTransport, logger: Logger = Logger(label: "nimbus.gateway.auth-lease"), holder: String = "gateway",
                servicePrincipal: @escaping @Sendable () -> [UInt8]) {
        self.transport = transport
        self.servicePrincipal = servicePrincipal
        self.logger = logger
        watcherID = "\(holder)-" + UUID().uuidString.lowercased()
        leaseGauge = Gauge(label: "nimbus_\(holder)_auth_lease")
    }

    /// The epoch a cached answer must have been learned under to be used at `now`, or nil.
    public func usableEpoch(at now: ContinuousClock.Instant) -> Int64? {
        state.withLock { state in
            guard state.streaming, state.acked == state.seen, let ends = state.leaseEnds, now < ends else { return nil }
            return state.acked
        }
    }

    /// The newest epoch heard: an Authenticate sent after this read reflects at least it.
    public var latestSeen: Int64 { state.withLock { $0.seen } }

    public var isLeaseValid: Bool { usableEpoch(at: .now) != nil }

    /// Watches until cancelled, reconnecting with a short backoff; while the stream is down
    /// no cached answer is usable.
    public func run() async {
        var backoff = Duration.milliseconds(50)
        while !Task.isCancelled {
            do {
                try await watchOnce()
                backoff = .milliseconds(50)
            } catch {
                if !Task.isCancelled {
                    logger.debug("auth epoch watch ended", metadata: ["error": "\(error)"])
                }
            }
            state.withLock { state in
                state.streaming = false
                state.leaseEnds = nil
            }
            leaseGauge.record(0)
            if Task.isCancelled { return }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(1))
        }
    }

    private func metadata() -> Metadata {
        var metadata = Metadata()
        metadata.add(PrincipalSigner.metadataKey, binary: servicePrincipal())
        return metadata
    }

    private func watchOnce() async throws {
        var request = IdentityV1.WatchAuthEpochRequest()
        request.watcherId = watcherID
        try await IdentityV1.AuthClient(transport: transport).watchAuthEpoch(request, options: CallOptions(metadata: metadata())) { [self] stream in
            for try await event in stream {
                state.withLock { state in
                    state.streaming = true
                    state.seen = max(state.seen, event.epoch)
                }
                await ack(event.epoch)
            }
        }
    }

    /// Acknowledges `epoch`; a granted ack (re)starts the local lease from before it was sent.
    func ack(_ epoch: Int64) async {
        guard epoch >= state.withLock({ $0.seen }) else { return }  // an older event still queued
        let started = ContinuousClock.now
        var request = IdentityV1.AckAuthEpochRequest()
        request.watcherId = watcherID
        request.epoch = epoch
        do {
            let answer = try await IdentityV1.AuthClient(transport: transport)
                .ackAuthEpoch(request, options: CallOptions(metadata: metadata(), timeout: .seconds(1)))
            let granted = state.withLock { state -> Bool in
                state.seen = max(state.seen, answer.epoch)
                guard answer.granted, answer.leaseMs > 0 else {
                    state.leaseEnds = nil
                    return false
                }
                let lease = Duration.milliseconds(answer.leaseMs)
                let margin = max(lease / 10, .milliseconds(100))
                guard epoch >= state.acked, lease > margin else { return false }
                state.acked = epoch
                state.leaseEnds = started + lease - margin
                return true
            }
            leaseGauge.record(granted ? 1 : 0)
        } catch {
            // No renewal: the lease simply runs out (identity's record of it ends later).
            logger.debug("auth epoch ack failed", metadata: ["error": "\(error)"])
        }
    }
}

/// What a cache needs of an auth lease: the epoch its entries must carry to be usable now
/// (nil: use none), and the newest epoch heard (read before asking identity, stored with the
/// answer). `AuthEpochWatcher` is the real one; tests drive a fixed one.
public protocol AuthLeaseView: Sendable {
    func usableEpoch(at now: ContinuousClock.Instant) -> Int64?
    var latestSeen: Int64 { get }
}

extension AuthEpochWatcher: AuthLeaseView {}
