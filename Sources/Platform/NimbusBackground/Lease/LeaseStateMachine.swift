/// Whether this replica holds a lease, as far as it can know without the database.
///
/// The database decides who holds a lease (`expires_at` in `worker_leases`); this machine
/// decides how long the replica may *act* on a grant. Its own clock starts when the request
/// that was granted was sent, so its view ends no later than the database's: the lease runs
/// out here first, never after another replica could have taken it. A failed renewal keeps the
/// lease until that local expiry and not a moment longer.
public struct LeaseStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case notHeld
        case held(until: ContinuousClock.Instant)
    }

    /// What a caller should know after an attempt.
    public enum Change: Sendable, Equatable {
        case acquired, renewed, lost, stillNotHeld
        /// A renewal failed but the lease has time left: keep acting, try again soon.
        case unconfirmed
    }

    public let ttl: Duration
    public private(set) var state: State = .notHeld

    public init(ttl: Duration) {
        precondition(ttl > .zero, "a lease needs a positive time to live")
        self.ttl = ttl
    }

    /// True while the last grant's local expiry lies ahead.
    public func isHeld(at now: ContinuousClock.Instant) -> Bool {
        if case .held(let until) = state { return now < until }
        return false
    }

    /// When to ask again: a holder renews after a third of the lease (two more tries before it
    /// runs out); a replica without it asks every `ttl / 2` so a takeover follows an expiry soon.
    public func nextAttempt(after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        isHeld(at: now) ? now + ttl / 3 : now + ttl / 2
    }

    /// The database answered the attempt sent at `sentAt`: granted or refused.
    public mutating func answered(granted: Bool, sentAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Change {
        let wasHeld = isHeld(at: now)
        guard granted else {
            state = .notHeld
            return wasHeld ? .lost : .stillNotHeld
        }
        state = .held(until: sentAt + ttl)
        return wasHeld ? .renewed : .acquired
    }

    /// The attempt failed (database unreachable, timeout): the lease stays until its local
    /// expiry, after which it is lost.
    public mutating func failed(now: ContinuousClock.Instant) -> Change {
        if isHeld(at: now) { return .unconfirmed }
        return expire(now: now)
    }

    /// Drops a grant whose local expiry has passed; `.lost` when there was one.
    public mutating func expire(now: ContinuousClock.Instant) -> Change {
        if isHeld(at: now) { return .renewed }
        let wasRecorded = state != .notHeld
        state = .notHeld
        return wasRecorded ? .lost : .stillNotHeld
    }

    /// Released on purpose (graceful stop).
    public mutating func released() {
        state = .notHeld
    }
}
