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
        var waiters: [CheckedContinuation<HTTP2ClientConnection, any Error>] = []
    }

    private struct State {
        var balancer: ClientLoadBalancer
        var slots: [[Slot]]
        var addresses: [SocketAddress?]
        var closed = false
    }

    let targets: [Target]
    let group: EventLoopGroup
    let connectionOptions: HTTP2ClientConnection.Options
    /// A new connection opens once every live one carries this many streams.
    let streamsBeforeSpreading: Int
    private let state: Mutex<State>

    init(targets: [Target], connectionsPerEndpoint: Int, policy: ClientLoadBalancer.Policy, group: EventLoopGroup,
         connectionOptions: HTTP2ClientConnection.Options, streamsBeforeSpreading: Int = 100) {
        self.targets = targets
        self.group = group
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
        state.withLock { state in
            if failed { state.balancer.recordFailure(endpoint, now: .now) } else { state.balancer.recordSuccess(endpoint) }
        }
    }

    /// A ready connection to `endpoint`, connecting if none has room.
    func connection(to endpoint: Int) async throws -> HTTP2ClientConnection {
        let address = try resolve(endpoint)
        enum Step {
            case use(HTTP2ClientConnection)
            case spread(HTTP2ClientConnection, slot: Int)
            case wait(slot: Int, connect: Bool)
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
                    if best.activeStreams >= streamsBeforeSpreading, connecting == nil, let free,
                       state.balancer.mayConnect(endpoint, now: .now) {
                        state.slots[endpoint][free].connection = nil
                        return .spread(best, slot: free)
                    }
                    return .use(best)
                }
                if let connecting {
                    state.slots[endpoint][connecting].waiters.append(continuation)
                    return .wait(slot: connecting, connect: false)
                }
                if let free, state.balancer.mayConnect(endpoint, now: .now) {
                    state.slots[endpoint][free].connection = nil
                    state.slots[endpoint][free].waiters.append(continuation)
                    return .wait(slot: free, connect: true)
                }
                return .fail(RPCError(.unavailable, "\(targets[endpoint].endpoint) is unreachable; reconnecting with backoff"))
            }
            switch step {
            case .use(let connection): continuation.resume(returning: connection)
            case .spread(let connection, let slot):
                open(endpoint: endpoint, slot: slot, address: address)
                continuation.resume(returning: connection)
            case .fail(let error): continuation.resume(throwing: error)
            case .wait(let slot, let connect):
                if connect { open(endpoint: endpoint, slot: slot, address: address) }
            }
        }
    }

    private func resolve(_ endpoint: Int) throws -> SocketAddress {
        if let cached = state.withLock({ $0.addresses[endpoint] }) { return cached }
        let target = targets[endpoint].endpoint
        do {
            let address = try SocketAddress(host: target.host, port: target.port)
            state.withLock { $0.addresses[endpoint] = address }
            return address
        } catch {
            state.withLock { $0.balancer.recordConnectFailure(endpoint, now: .now, unitRandom: Double.random(in: 0..<1)) }
            throw RPCError(.unavailable, "cannot resolve \(target)", cause: error)
        }
    }

    private func open(endpoint: Int, slot: Int, address: SocketAddress) {
        let target = targets[endpoint]
        let connection = HTTP2ClientConnection(
            loop: group.next(), address: address, tls: target.tls, serverName: target.serverName, options: connectionOptions
        ) { [weak self] connection, newState, error in
            self?.connection(connection, endpoint: endpoint, slot: slot, changedTo: newState, error: error)
        }
        // The slot holds the connection before its first state change can look for it.
        state.withLock { $0.slots[endpoint][slot].connection = connection }
        connection.connect()
    }

    private func connection(_ connection: HTTP2ClientConnection, endpoint: Int, slot: Int,
                            changedTo newState: HTTP2ClientConnection.State, error: (any Error)?) {
        var waiters: [CheckedContinuation<HTTP2ClientConnection, any Error>] = []
        var closeNow = false
        state.withLock { state in
            let owned = state.slots[endpoint][slot].connection === connection
            switch newState {
            case .connecting:
                break
            case .ready:
                state.balancer.recordConnected(endpoint)
                if owned { swap(&waiters, &state.slots[endpoint][slot].waiters) }
                closeNow = state.closed
            case .draining:
                // Keep serving its open streams; the slot takes a fresh connection.
                state.balancer.recordDisconnected(endpoint)
                if owned && state.slots[endpoint][slot].waiters.isEmpty { state.slots[endpoint][slot].connection = nil }
            case .closed:
                if owned { swap(&waiters, &state.slots[endpoint][slot].waiters) }
                if owned { state.slots[endpoint][slot].connection = nil }
                if waiters.isEmpty && !connectionWasNeverReady(error) {
                    // It was up and went away: the endpoint may be restarting; re-resolve later.
                    state.balancer.recordDisconnected(endpoint)
                } else {
                    state.balancer.recordConnectFailure(endpoint, now: .now, unitRandom: Double.random(in: 0..<1))
                    state.addresses[endpoint] = nil
                }
            }
        }
        if newState == .ready {
            for waiter in waiters { waiter.resume(returning: connection) }
            if closeNow { connection.close(graceful: false) }
        } else if newState == .closed {
            let failure = RPCError(.unavailable, "cannot connect to \(targets[endpoint].endpoint): \(error.map { "\($0)" } ?? "closed")", cause: error)
            for waiter in waiters { waiter.resume(throwing: failure) }
        }
    }

    private func connectionWasNeverReady(_ error: (any Error)?) -> Bool {
        switch error as? HTTP2ClientConnectionError {
        case .connectFailed, .connectTimeout, .alpnMismatch: true
        default: error is TLSError
        }
    }

    /// Closes every connection; graceful lets open calls finish first.
    func close(graceful: Bool) {
        let connections = state.withLock { state -> [HTTP2ClientConnection] in
            state.closed = true
            return state.slots.flatMap { $0.compactMap(\.connection) }
        }
        for connection in connections { connection.close(graceful: graceful) }
    }

    /// Open connections (ready or draining), for tests and metrics.
    var liveConnectionCount: Int {
        state.withLock { state in
            state.slots.flatMap { $0 }.filter { $0.connection.map { $0.state == .ready } ?? false }.count
        }
    }
}
