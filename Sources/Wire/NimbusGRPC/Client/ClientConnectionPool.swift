import Foundation
import Logging
import NimbusEventLoop
import NimbusHTTP
import NimbusRPCCore
import Synchronization

/// The channel's connections: per endpoint a few long-lived HTTP/2 connections (slots), opened
/// lazily, each multiplexing many calls; a dead or draining one frees its slot for a fresh
/// connect. Endpoint choice, ejection and reconnect backoff come from `ClientLoadBalancer`.
final class ClientConnectionPool: Sendable {
    struct Target: Sendable {
        var endpoint: ClientEndpoint
        var tls: TLSContext?
        var serverName: String?
    }

    private struct Slot {
        var connection: HTTP2ClientConnection?
        /// Calls waiting for this slot's connect, by waiter id.
        var waiters: [UInt64: CheckedContinuation<HTTP2ClientConnection, any Error>] = [:]
    }

    private struct State {
        var balancer: ClientLoadBalancer
        var slots: [[Slot]]
        var addresses: [SocketAddress?]
        /// Every connection not yet closed, in a slot or draining outside one.
        var open: [ObjectIdentifier: HTTP2ClientConnection] = [:]
        /// Connections that reached `.ready` and still count as live for their endpoint.
        var live: Set<ObjectIdentifier> = []
        /// Connections that reached `.ready` at some point (until they close).
        var wereReady: Set<ObjectIdentifier> = []
        var closed = false
        var nextWaiterID: UInt64 = 0
    }

    let targets: [Target]
    /// The loops connections run on (the channel's own, or shared with a server).
    let loops: [EventLoop]
    private let nextLoop = Atomic<Int>(0)
    let connectionOptions: HTTP2ClientConnection.Options
    let logger: Logger
    /// A new connection opens once every live one carries this many streams.
    let streamsBeforeSpreading: Int
    private let state: Mutex<State>

    init(targets: [Target], connectionsPerEndpoint: Int, policy: ClientLoadBalancer.Policy, loops: [EventLoop],
         connectionOptions: HTTP2ClientConnection.Options, streamsBeforeSpreading: Int = 100,
         logger: Logger = Logger(label: "nimbus.grpc.client", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.logger = logger
        self.targets = targets
        precondition(!loops.isEmpty, "a connection pool needs an event loop")
        self.loops = loops
        self.connectionOptions = connectionOptions
        self.streamsBeforeSpreading = streamsBeforeSpreading
        state = Mutex(State(balancer: ClientLoadBalancer(endpointCount: targets.count, policy: policy),
                            slots: Array(repeating: Array(repeating: Slot(), count: max(1, connectionsPerEndpoint)), count: targets.count),
                            addresses: Array(repeating: nil, count: targets.count)))
    }

    /// The endpoint a call should try next (see `ClientLoadBalancer.pick`).
    func pickEndpoint(excluding: Set<Int>) -> ClientLoadBalancer.Pick {
        state.withLock { $0.balancer.pick(now: .now, excluding: excluding) }
    }

    func recordCallOutcome(endpoint: Int, failed: Bool) {
        let coolDown = state.withLock { state -> Duration? in
            if failed { return state.balancer.recordFailure(endpoint, now: .now) }
            state.balancer.recordSuccess(endpoint)
            return nil
        }
        if let coolDown { logEjection(endpoint, coolDown) }
    }

    /// A ready connection to `endpoint`, connecting if none has room. A wait for a connect in
    /// progress ends at `deadline` with DEADLINE_EXCEEDED.
    func connection(to endpoint: Int, deadline: ContinuousClock.Instant? = nil) async throws -> HTTP2ClientConnection {
        if let ready = readyConnection(to: endpoint) { return ready }
        let address = try await resolve(endpoint)
        enum Step {
            case use(HTTP2ClientConnection)
            /// Use the busy one now; `fresh` starts connecting for the calls after.
            case spread(HTTP2ClientConnection, fresh: HTTP2ClientConnection)
            /// Wait for a connect in progress, or for `fresh`, which starts connecting.
            case wait(fresh: HTTP2ClientConnection?, slot: Int, waiter: UInt64)
            case fail(RPCError)
        }
        return try await withCheckedThrowingContinuation { continuation in
            let step = state.withLock { state -> Step in
                if state.closed { return .fail(RPCError(.unavailable, "the channel is closed")) }
                var best: HTTP2ClientConnection?
                var free: Int?
                var connecting: Int?
                for (index, slot) in state.slots[endpoint].enumerated() {
                    if let connection = slot.connection {
                        switch connection.state {
                        case .ready:
                            if best == nil || connection.activeStreams < best!.activeStreams { best = connection }
                        case .connecting:
                            if connecting == nil { connecting = index }
                        case .draining, .closed:
                            if slot.waiters.isEmpty { free = free ?? index }
                        }
                    } else if free == nil {
                        free = index
                    }
                }
                if let best {
                    // Busy: spread future calls onto another connection, but do not make this one wait.
                    // Also open one on the caller's loop when it runs on a loop and has none there.
                    let callerLoopLacksOne = Self.callerLoop(among: loops) != nil
                        && !state.slots[endpoint].contains { $0.connection?.loop.inEventLoop == true }
                    if best.activeStreams >= streamsBeforeSpreading || callerLoopLacksOne, connecting == nil, let free,
                       state.balancer.mayConnect(endpoint, now: .now) {
                        return .spread(best, fresh: makeConnection(&state, endpoint: endpoint, slot: free, address: address))
                    }
                    return .use(best)
                }
                if let connecting {
                    let waiter = Self.addWaiter(&state, continuation, endpoint: endpoint, slot: connecting)
                    return .wait(fresh: nil, slot: connecting, waiter: waiter)
                }
                if let free, state.balancer.mayConnect(endpoint, now: .now) {
                    let fresh = makeConnection(&state, endpoint: endpoint, slot: free, address: address)
                    let waiter = Self.addWaiter(&state, continuation, endpoint: endpoint, slot: free)
                    return .wait(fresh: fresh, slot: free, waiter: waiter)
                }
                return .fail(RPCError(.unavailable, "\(targets[endpoint].endpoint) is unreachable; reconnecting with backoff"))
            }
            switch step {
            case .use(let connection): continuation.resume(returning: connection)
            case .spread(let connection, let fresh):
                fresh.connect()
                continuation.resume(returning: connection)
            case .fail(let error): continuation.resume(throwing: error)
            case .wait(let fresh, let slot, let waiter):
                fresh?.connect()
                if let deadline { expire(endpoint: endpoint, slot: slot, waiter: waiter, at: deadline) }
            }
        }
    }

    private func logEjection(_ endpoint: Int, _ coolDown: Duration) {
        logger.info("endpoint ejected after repeated failures",
                    metadata: ["grpc.peer": "\(targets[endpoint].endpoint)", "grpc.ejection_seconds": "\(coolDown.clientSeconds)"])
    }

    private static func addWaiter(_ state: inout State, _ continuation: CheckedContinuation<HTTP2ClientConnection, any Error>,
                                  endpoint: Int, slot: Int) -> UInt64 {
        state.nextWaiterID &+= 1
        state.slots[endpoint][slot].waiters[state.nextWaiterID] = continuation
        return state.nextWaiterID
    }

    /// Gives up on a waiter at its call's deadline (a connect may take up to connectTimeout).
    private func expire(endpoint: Int, slot: Int, waiter: UInt64, at deadline: ContinuousClock.Instant) {
        Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            guard let self else { return }
            let continuation = self.state.withLock { $0.slots[endpoint][slot].waiters.removeValue(forKey: waiter) }
            continuation?.resume(throwing: RPCError(.deadlineExceeded,
                                                    "the call's deadline passed while connecting to \(self.targets[endpoint].endpoint)"))
        }
    }

    /// The fast path: the least busy ready connection when it still has room, without suspending.
    func readyConnection(to endpoint: Int) -> HTTP2ClientConnection? {
        state.withLock { state in
            var best: HTTP2ClientConnection?
            var bestStreams = Int.max
            for slot in state.slots[endpoint] {
                guard let connection = slot.connection, connection.state == .ready else { continue }
                let streams = connection.activeStreams
                // A connection on the caller's own loop (e.g. a gateway handler on a shared group)
                // saves two thread hops per call.
                if connection.loop.inEventLoop && streams < streamsBeforeSpreading { return connection }
                if streams < bestStreams { best = connection; bestStreams = streams }
            }
            guard !state.closed, bestStreams < streamsBeforeSpreading else { return nil }
            // While a slot is free, a caller on a loop without a connection there makes one.
            if let best, !best.loop.inEventLoop, Self.callerLoop(among: loops) != nil,
               state.slots[endpoint].contains(where: { $0.connection == nil || $0.connection?.state != .ready }) { return nil }
            return best
        }
    }

    /// The event loop the caller runs on: one of ours, or — for a handler task that prefers a
    /// server's loop as its executor (`Task(executorPreference: loop)`) — that loop, so a
    /// connection made for it lives on the handler's own thread and a forwarded call never
    /// changes thread. Nil off any loop (then connections go round-robin over `loops`).
    static func callerLoop(among loops: [EventLoop]) -> EventLoop? {
        if let own = loops.first(where: { $0.inEventLoop }) { return own }
        let preferred = withUnsafeCurrentTask { task in task?.unownedTaskExecutor?.asTaskExecutor() as? EventLoop }
        if let preferred, preferred.inEventLoop { return preferred }
        return nil
    }

    private func resolve(_ endpoint: Int) async throws -> SocketAddress {
        if let cached = state.withLock({ $0.addresses[endpoint] }) { return cached }
        let target = targets[endpoint].endpoint
        do {
            let address = try await Self.lookUp(host: target.host, port: target.port)
            state.withLock { $0.addresses[endpoint] = address }
            return address
        } catch {
            let coolDown = state.withLock { $0.balancer.recordConnectFailure(endpoint, now: .now, unitRandom: Double.random(in: 0..<1)) }
            if let coolDown { logEjection(endpoint, coolDown) }
            throw RPCError(.unavailable, "cannot resolve \(target)", cause: error)
        }
    }

    /// The endpoint's address. A host name is looked up on a short-lived thread of its own:
    /// getaddrinfo blocks on DNS, and the caller is usually a handler on an event loop, whose
    /// every other call would wait meanwhile. IP literals and `localhost` resolve in place.
    static func lookUp(host: String, port: Int,
                       blocking resolve: @escaping @Sendable (String, Int) throws -> SocketAddress = { try SocketAddress(host: $0, port: $1) }
    ) async throws -> SocketAddress {
        if GRPCChannel.isIPLiteral(host) || host == "localhost" { return try resolve(host, port) }
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try resolve(host, port) }) }
        }
    }

    /// A connection for the slot, registered under the lock (so no other call takes the slot
    /// meanwhile); it starts connecting when the caller calls `connect()` after the lock.
    private func makeConnection(_ state: inout State, endpoint: Int, slot: Int, address: SocketAddress) -> HTTP2ClientConnection {
        let target = targets[endpoint]
        let loop = Self.callerLoop(among: loops) ?? loops[nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
        let connection = HTTP2ClientConnection(
            loop: loop, address: address, tls: target.tls, serverName: target.serverName, options: connectionOptions
        ) { [weak self] connection, newState, error in
            self?.connection(connection, endpoint: endpoint, slot: slot, changedTo: newState, error: error)
        }
        state.slots[endpoint][slot].connection = connection
        state.open[ObjectIdentifier(connection)] = connection
        return connection
    }

    private func connection(_ connection: HTTP2ClientConnection, endpoint: Int, slot: Int,
                            changedTo newState: HTTP2ClientConnection.State, error: (any Error)?) {
        var waiters: [UInt64: CheckedContinuation<HTTP2ClientConnection, any Error>] = [:]
        var closeNow = false
        var ejectedFor: Duration?
        state.withLock { state in
            let owned = state.slots[endpoint][slot].connection === connection
            let id = ObjectIdentifier(connection)
            switch newState {
            case .connecting:
                break
            case .ready:
                state.live.insert(id)
                state.wereReady.insert(id)
                state.balancer.recordConnected(endpoint)
                if owned { swap(&waiters, &state.slots[endpoint][slot].waiters) }
                closeNow = state.closed
            case .draining:
                // Keep serving its open streams; the slot takes a fresh connection.
                if state.live.remove(id) != nil { state.balancer.recordDisconnected(endpoint) }
                if owned && state.slots[endpoint][slot].waiters.isEmpty { state.slots[endpoint][slot].connection = nil }
            case .closed:
                let wasOpen = state.open.removeValue(forKey: id) != nil
                let wasReady = state.wereReady.remove(id) != nil
                if owned { swap(&waiters, &state.slots[endpoint][slot].waiters) }
                if owned { state.slots[endpoint][slot].connection = nil }
                if state.live.remove(id) != nil {
                    // It was up and went away (restart, idle close): the next call reconnects.
                    state.balancer.recordDisconnected(endpoint)
                } else if wasOpen && !wasReady && !state.closed && !closedByUs(error) {
                    // It never got ready: a failed connect attempt (refused, timeout, TLS).
                    ejectedFor = state.balancer.recordConnectFailure(endpoint, now: .now, unitRandom: Double.random(in: 0..<1))
                    state.addresses[endpoint] = nil
                }
            }
        }
        let peer = targets[endpoint].endpoint.description
        switch newState {
        case .ready: logger.debug("connected", metadata: ["grpc.peer": "\(peer)"])
        case .draining: logger.debug("draining", metadata: ["grpc.peer": "\(peer)"])
        case .closed: logger.debug("connection closed", metadata: ["grpc.peer": "\(peer)", "error": "\(error.map { "\($0)" } ?? "none")"])
        case .connecting: break
        }
        if let ejectedFor { logEjection(endpoint, ejectedFor) }
        if newState == .ready {
            for waiter in waiters.values { waiter.resume(returning: connection) }
            if closeNow { connection.close(graceful: false) }
        } else if newState == .closed {
            let failure = RPCError(.unavailable, "cannot connect to \(targets[endpoint].endpoint): \(error.map { "\($0)" } ?? "closed")", cause: error)
            for waiter in waiters.values { waiter.resume(throwing: failure) }
        }
    }

    private func closedByUs(_ error: (any Error)?) -> Bool {
        if case .closedLocally = error as? HTTP2ClientConnectionError { return true }
        return false
    }

    /// Closes every connection; graceful lets open calls finish first.
    func close(graceful: Bool) {
        let connections = state.withLock { state -> [HTTP2ClientConnection] in
            state.closed = true
            return Array(state.open.values)
        }
        for connection in connections { connection.close(graceful: graceful) }
    }

    /// Connections ready for new calls, for tests and metrics.
    var readyConnectionCount: Int {
        state.withLock { state in state.open.values.filter { $0.state == .ready }.count }
    }

    /// Connections not yet closed (connecting, ready or draining).
    var openConnectionCount: Int { state.withLock { $0.open.count } }
}
