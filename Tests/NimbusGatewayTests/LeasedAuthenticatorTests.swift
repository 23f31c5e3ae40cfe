import Foundation
import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore
import Synchronization
import NimbusService
import Testing
@testable import NimbusGateway

/// Identity's lease protocol in process: Authenticate against a key table, WatchAuthEpoch fed
/// by `bump()`, AckAuthEpoch granting a lease only for the current epoch (as nimbus-identity).
final class LeaseIdentity: RPCClientTransport, Sendable {
    struct State {
        var epoch: Int64 = 1
        var keys: Set<String> = ["nmb_good_secret", "nmb_other_secret"]
        var watchers: [AsyncStream<Int64>.Continuation] = []
        var authenticateCalls = 0
        var acks: [Int64] = []
        var grantAcks = true
    }
    let state = Mutex(State())
    let principalLifetimeMs: Int64

    init(principalLifetimeMs: Int64 = 60_000) { self.principalLifetimeMs = principalLifetimeMs }

    var calls: Int { state.withLock { $0.authenticateCalls } }

    /// A change that bumps the epoch (e.g. a revocation): watchers hear the new epoch.
    func bump(revoking key: String? = nil) {
        state.withLock { state in
            if let key { state.keys.remove(key) }
            state.epoch += 1
            for watcher in state.watchers { watcher.yield(state.epoch) }
        }
    }

    /// Ends every watch stream (identity went away).
    func dropStreams() {
        state.withLock { state in
            for watcher in state.watchers { watcher.finish() }
            state.watchers = []
        }
    }

    func unary(_ method: MethodDescriptor, request: [UInt8], options: CallOptions) async throws -> RPCResponse<[UInt8]> {
        var reader = ProtoReader(request)
        var text = "", number: Int64 = 0
        while let (field, type) = try reader.readTag() {
            switch (field, type) {
            case (1, .lengthDelimited): text = try reader.readString()
            case (2, .varint): number = Int64(bitPattern: try reader.readVarint())
            default: try reader.skip(type, field: field)
            }
        }
        var out = ProtoWriter()
        switch method.method {
        case "Authenticate":
            let known = state.withLock { state in
                state.authenticateCalls += 1
                return state.keys.contains(text)
            }
            guard known else { throw RPCError(.unauthenticated, "bad key") }
            var principal = ProtoWriter()
            for (field, value) in [(1, "u-\(text)"), (2, "t-1"), (5, "k-\(text)")] {
                principal.writeTag(field, .lengthDelimited)
                principal.writeLengthDelimited(Array(value.utf8))
            }
            out.writeTag(1, .lengthDelimited)
            out.writeLengthDelimited(principal.bytes)
            out.writeTag(2, .lengthDelimited)
            out.writeLengthDelimited(Self.token(expiresInMs: principalLifetimeMs))
        case "AckAuthEpoch":
            let (granted, current) = state.withLock { state in
                state.acks.append(number)
                return (state.grantAcks && number >= state.epoch, state.epoch)
            }
            out.writeTag(1, .varint); out.writeVarint(granted ? 1 : 0)
            out.writeTag(2, .varint); out.writeVarint(granted ? 3000 : 0)
            out.writeTag(3, .varint); out.writeVarint(UInt64(current))
        default:
            throw RPCError(.unimplemented, method.path)
        }
        return RPCResponse(message: out.bytes, initialMetadata: [:], trailingMetadata: [:])
    }

    func streaming<Result: Sendable>(
        _ method: MethodDescriptor, options: CallOptions,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (RPCMessageStream<[UInt8]>) async throws -> Result
    ) async throws -> Result {
        guard method.method == "WatchAuthEpoch" else { throw RPCError(.unimplemented, method.path) }
        try await requests(RPCMessageWriter { _ in })
        let (stream, continuation) = AsyncStream<Int64>.makeStream()
        state.withLock { state in
            continuation.yield(state.epoch)
            state.watchers.append(continuation)
        }
        let pump = Pump(stream)
        return try await responses(RPCMessageStream {
            guard let next = await pump.next() else { return nil }
            var event = ProtoWriter()
            event.writeTag(1, .varint); event.writeVarint(UInt64(next))
            event.writeTag(2, .varint); event.writeVarint(3000)
            return event.bytes
        })
    }

    /// The PrincipalSigner layout: version, expiry (Unix ms, BE), then anything (unverified here).
    static func token(expiresInMs: Int64) -> [UInt8] {
        let expiry = UInt64(Int64(Date().timeIntervalSince1970 * 1000) + expiresInMs)
        return [1] + (0..<8).map { UInt8(truncatingIfNeeded: expiry >> (56 - 8 * UInt64($0))) } + Array("principal".utf8)
    }
}

/// Owns a stream's iterator so a `@Sendable` closure can pull from it.
actor Pump {
    private var iterator: AsyncStream<Int64>.AsyncIterator
    init(_ stream: AsyncStream<Int64>) { iterator = stream.makeAsyncIterator() }
    func next() async -> Int64? {
        var it = iterator
        let value = await it.next(isolation: self)
        iterator = it
        return value
    }
}

@Suite struct LeasedAuthenticatorTests {
    let request = RequestIdentity(requestID: "r", traceparent: nil)

    func make(_ identity: LeaseIdentity) -> (LeasedAuthenticator, Task<Void, Never>) {
        let watcher = AuthEpochWatcher(transport: identity) { Array("service".utf8) }
        let authenticator = LeasedAuthenticator(upstream: IdentityAuthenticator(transport: identity) { Array("service".utf8) },
                                                watcher: watcher)
        return (authenticator, Task { await watcher.run() })
    }

    func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<400 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
        #expect(condition())
    }

    @Test func servesFromCacheOnlyUnderALease() async throws {
        let identity = LeaseIdentity()
        let (auth, task) = make(identity)
        defer { task.cancel() }
        try await eventually { auth.watcher.isLeaseValid }
        _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request)
        for _ in 0..<5 { _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request) }
        #expect(identity.calls == 1)
        // Failures are never cached.
        for _ in 0..<2 { await #expect(throws: RPCError.self) { try await auth.authenticate(apiKey: "nmb_unknown", identity: request) } }
        #expect(identity.calls == 3)
    }

    @Test func aNewEpochRetiresEveryEntryAtOnce() async throws {
        let identity = LeaseIdentity()
        let (auth, task) = make(identity)
        defer { task.cancel() }
        try await eventually { auth.watcher.isLeaseValid }
        _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request)
        _ = try await auth.authenticate(apiKey: "nmb_other_secret", identity: request)
        identity.bump(revoking: "nmb_good_secret")
        try await eventually { auth.watcher.latestSeen == 2 }
        // Heard but maybe not acked yet: no cached answer is usable either way.
        await #expect(throws: RPCError.self) { try await auth.authenticate(apiKey: "nmb_good_secret", identity: request) }
        let calls = identity.calls
        _ = try await auth.authenticate(apiKey: "nmb_other_secret", identity: request)
        #expect(identity.calls == calls + 1)
        try await eventually { auth.watcher.isLeaseValid }
        _ = try await auth.authenticate(apiKey: "nmb_other_secret", identity: request)
        _ = try await auth.authenticate(apiKey: "nmb_other_secret", identity: request)
        #expect(identity.calls <= calls + 2)
        #expect(identity.state.withLock { $0.acks }.contains(2))
    }

    @Test func aBrokenStreamOrARefusedAckMeansStrict() async throws {
        let identity = LeaseIdentity()
        let (auth, task) = make(identity)
        defer { task.cancel() }
        try await eventually { auth.watcher.isLeaseValid }
        _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request)
        identity.state.withLock { $0.grantAcks = false }
        identity.dropStreams()
        try await eventually { !auth.watcher.isLeaseValid }
        let calls = identity.calls
        for _ in 0..<3 { _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request) }
        #expect(identity.calls == calls + 3)
        // The watcher reconnects, but without a granted ack there is still no lease.
        try await eventually { identity.state.withLock { $0.watchers.count } == 1 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!auth.watcher.isLeaseValid)
        identity.state.withLock { $0.grantAcks = true }
        identity.bump()
        try await eventually { auth.watcher.isLeaseValid }
    }

    @Test func entriesEndBeforeTheSignedPrincipalExpires() async throws {
        let identity = LeaseIdentity(principalLifetimeMs: 10_000)  // under the 20 s margin: never cached
        let (auth, task) = make(identity)
        defer { task.cancel() }
        try await eventually { auth.watcher.isLeaseValid }
        for _ in 0..<3 { _ = try await auth.authenticate(apiKey: "nmb_good_secret", identity: request) }
        #expect(identity.calls == 3)
        #expect(LeasedAuthenticator.remainingLifetime(LeaseIdentity.token(expiresInMs: 60_000))! > .seconds(58))
        #expect(LeasedAuthenticator.remainingLifetime(LeaseIdentity.token(expiresInMs: -1)) == nil)
        #expect(LeasedAuthenticator.remainingLifetime(Array("signed:u-1".utf8)) == nil)
    }
}
