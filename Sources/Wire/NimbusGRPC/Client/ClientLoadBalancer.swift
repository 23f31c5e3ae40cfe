/// Which endpoint the next call goes to: round-robin over the healthy ones, skipping an endpoint
/// that keeps failing (passive ejection with a growing cool-down) and one whose reconnect
/// backoff has not elapsed. Pure state, no I/O, no clock of its own: the channel keeps it behind
/// a lock and passes `now`.
struct ClientLoadBalancer {
    struct Policy: Sendable, Hashable {
        /// Consecutive failures (connect errors, refused streams, lost connections) that eject.
        var ejectAfterFailures = 3
        var ejectionCoolDown: Duration = .seconds(5)
        var maxEjectionCoolDown: Duration = .seconds(60)
        var backoff = ClientBackoff()
    }

    struct EndpointState {
        var consecutiveFailures = 0
        /// Failed connect attempts in a row (drives the backoff; reset by a successful connect).
        var connectFailures = 0
        var nextConnectAt: ContinuousClock.Instant?
        var ejectedUntil: ContinuousClock.Instant?
        var ejections = 0
        /// Established connections the endpoint has now (maintained by the channel).
        var liveConnections = 0
    }

    struct Pick: Equatable {
        var index: Int
        /// Set when every endpoint is unavailable: the earliest moment this one may be tried.
        var notBefore: ContinuousClock.Instant?
    }

    let policy: Policy
    private(set) var endpoints: [EndpointState]
    private var cursor = 0

    init(endpointCount: Int, policy: Policy) {
        precondition(endpointCount > 0, "a load balancer needs an endpoint")
        self.policy = policy
        endpoints = Array(repeating: EndpointState(), count: endpointCount)
    }

    func isEjected(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        endpoints[index].ejectedUntil.map { now < $0 } ?? false
    }

    /// The next endpoint in round-robin order that is usable now, skipping `excluding` (those the
    /// current call already failed on) while others exist.
    mutating func pick(now: ContinuousClock.Instant, excluding: Set<Int> = []) -> Pick {
        let count = endpoints.count
        for pass in 0..<2 {
            for step in 0..<count {
                let index = (cursor + step) % count
                if pass == 0 && excluding.contains(index) && excluding.count < count { continue }
                if usableAt(index, now: now) <= now {
                    cursor = (index + 1) % count
                    return Pick(index: index, notBefore: nil)
                }
            }
            if excluding.isEmpty { break }
        }
        // Nothing usable now. Ejection is a preference, not a verdict: with every endpoint out,
        // ignore it and take, in round-robin order, the first whose reconnect backoff ends soonest.
        var best = cursor % count
        for step in 0..<count {
            let index = (cursor + step) % count
            if connectableAt(index, now: now) < connectableAt(best, now: now) { best = index }
        }
        cursor = (best + 1) % count
        let at = connectableAt(best, now: now)
        return Pick(index: best, notBefore: at > now ? at : nil)
    }

    private func connectableAt(_ index: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let state = endpoints[index]
        guard state.liveConnections == 0, let next = state.nextConnectAt, next > now else { return now }
        return next
    }

    /// When the endpoint may take a call: now if it has a live connection and is not ejected,
    /// else after its ejection and connect backoff.
    private func usableAt(_ index: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let state = endpoints[index]
        var at = now
        if let until = state.ejectedUntil, until > at { at = until }
        if state.liveConnections == 0, let next = state.nextConnectAt, next > at { at = next }
        return at
    }

    /// A call or connect on the endpoint worked.
    mutating func recordSuccess(_ index: Int) {
        endpoints[index].consecutiveFailures = 0
        endpoints[index].ejections = 0
        endpoints[index].ejectedUntil = nil
    }

    mutating func recordConnected(_ index: Int) {
        endpoints[index].connectFailures = 0
        endpoints[index].nextConnectAt = nil
        endpoints[index].liveConnections += 1
        recordSuccess(index)
    }

    mutating func recordDisconnected(_ index: Int) {
        endpoints[index].liveConnections = max(0, endpoints[index].liveConnections - 1)
    }

    /// A connect attempt failed: back off before the next one, and count towards ejection.
    /// Returns the ejection's cool-down when this failure ejected the endpoint.
    @discardableResult
    mutating func recordConnectFailure(_ index: Int, now: ContinuousClock.Instant, unitRandom: Double) -> Duration? {
        let delay = policy.backoff.delay(afterFailures: endpoints[index].connectFailures, unitRandom: unitRandom)
        endpoints[index].connectFailures += 1
        endpoints[index].nextConnectAt = now + delay
        return recordFailure(index, now: now)
    }

    /// A call failed in a way that blames the endpoint (refused, connection lost, UNAVAILABLE).
    /// Returns the ejection's cool-down when this failure ejected the endpoint.
    @discardableResult
    mutating func recordFailure(_ index: Int, now: ContinuousClock.Instant) -> Duration? {
        endpoints[index].consecutiveFailures += 1
        guard endpoints[index].consecutiveFailures >= policy.ejectAfterFailures else { return nil }
        // Each ejection in a row doubles the cool-down, up to the maximum.
        let factor = 1 << min(endpoints[index].ejections, 16)
        let coolDown = min(policy.ejectionCoolDown * factor, policy.maxEjectionCoolDown)
        endpoints[index].ejectedUntil = now + coolDown
        endpoints[index].ejections += 1
        endpoints[index].consecutiveFailures = 0
        return coolDown
    }

    /// Whether a fresh connect attempt to the endpoint is allowed now.
    func mayConnect(_ index: Int, now: ContinuousClock.Instant) -> Bool {
        endpoints[index].nextConnectAt.map { now >= $0 } ?? true
    }
}
