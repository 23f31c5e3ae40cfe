import Foundation
import Logging
import Metrics
import NimbusProtoJSON
import NimbusRPCCore
import Synchronization

/// The gateway's side of identity's auth leases (see `LeasedAuthenticator`): keeps one
/// `WatchAuthEpoch` stream open, acknowledges every epoch it hears (`AckAuthEpoch`), and says
/// which epoch cached answers must carry to be usable right now — none unless the stream is up,
/// the latest epoch heard is the one acknowledged, and the lease from that ack still runs.
///
/// The local lease clock starts *before* the ack is sent and ends a margin short of the lease
/// identity granted; identity starts its own clock when it records the ack, later. So the
/// gateway always stops trusting its cache before identity stops waiting for it.
public final class AuthEpochWatcher: Sendable {
    public static let watchMethod = MethodDescriptor(service: "nimbus.identity.v1.Auth", method: "WatchAuthEpoch", kind: .serverStreaming)
    public static let ackMethod = MethodDescriptor(service: "nimbus.identity.v1.Auth", method: "AckAuthEpoch", kind: .unary)

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
    private let leaseGauge = Gauge(label: "nimbus_gateway_auth_lease")

    public init(transport: any RPCClientTransport, logger: Logger = Logger(label: "nimbus.gateway.auth-lease"),
                servicePrincipal: @escaping @Sendable () -> [UInt8]) {
        self.transport = transport
        self.servicePrincipal = servicePrincipal
        self.logger = logger
        watcherID = "gateway-" + UUID().uuidString.lowercased()
    }

    /// The epoch a cached answer must have been learned under to be used at `now`, or nil.
    func usableEpoch(at now: ContinuousClock.Instant) -> Int64? {
        state.withLock { state in
            guard state.streaming, state.acked == state.seen, let ends = state.leaseEnds, now < ends else { return nil }
            return state.acked
        }
    }

    /// The newest epoch heard: an Authenticate sent after this read reflects at least it.
    var latestSeen: Int64 { state.withLock { $0.seen } }

    var isLeaseValid: Bool { usableEpoch(at: .now) != nil }

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
        metadata.add(IdentityAuthenticator.principalMetadataKey, binary: servicePrincipal())
        return metadata
    }

    private func watchOnce() async throws {
        var request = ProtoWriter()  // WatchAuthEpochRequest { string watcher_id = 1; }
        request.writeTag(1, .lengthDelimited)
        request.writeLengthDelimited(Array(watcherID.utf8))
        let bytes = request.bytes
        try await transport.streaming(Self.watchMethod, options: CallOptions(metadata: metadata()), requests: { writer in
            try await writer.write(bytes)
        }, responses: { [self] stream in
            for try await message in stream {
                let event = try Self.decodeEvent(message)
                state.withLock { state in
                    state.streaming = true
                    state.seen = max(state.seen, event.epoch)
                }
                await ack(event.epoch)
            }
        })
    }

    /// Acknowledges `epoch`; a granted ack (re)starts the local lease from before it was sent.
    func ack(_ epoch: Int64) async {
        guard epoch >= state.withLock({ $0.seen }) else { return }  // an older event still queued
        let started = ContinuousClock.now
        var request = ProtoWriter()  // AckAuthEpochRequest { string watcher_id = 1; int64 epoch = 2; }
        request.writeTag(1, .lengthDelimited)
        request.writeLengthDelimited(Array(watcherID.utf8))
        request.writeTag(2, .varint)
        request.writeVarint(UInt64(bitPattern: epoch))
        do {
            let response = try await transport.unary(Self.ackMethod, request: request.bytes,
                                                     options: CallOptions(metadata: metadata(), timeout: .seconds(1)))
            let answer = try Self.decodeAck(response.message)
            let granted = state.withLock { state -> Bool in
                state.seen = max(state.seen, answer.currentEpoch)
                guard answer.granted, answer.leaseMilliseconds > 0 else {
                    state.leaseEnds = nil
                    return false
                }
                let lease = Duration.milliseconds(answer.leaseMilliseconds)
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

    static func decodeEvent(_ bytes: [UInt8]) throws -> (epoch: Int64, leaseMilliseconds: Int64) {
        var epoch: Int64 = 0, lease: Int64 = 0
        var reader = ProtoReader(bytes)
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .varint): epoch = Int64(bitPattern: try reader.readVarint())
            case (2, .varint): lease = Int64(bitPattern: try reader.readVarint())
            default: try reader.skip(wireType, field: field)
            }
        }
        return (epoch, lease)
    }

    static func decodeAck(_ bytes: [UInt8]) throws -> (granted: Bool, leaseMilliseconds: Int64, currentEpoch: Int64) {
        var granted = false, lease: Int64 = 0, epoch: Int64 = 0
        var reader = ProtoReader(bytes)
        while let (field, wireType) = try reader.readTag() {
            switch (field, wireType) {
            case (1, .varint): granted = try reader.readVarint() != 0
            case (2, .varint): lease = Int64(bitPattern: try reader.readVarint())
            case (3, .varint): epoch = Int64(bitPattern: try reader.readVarint())
            default: try reader.skip(wireType, field: field)
            }
        }
        return (granted, lease, epoch)
    }
}
