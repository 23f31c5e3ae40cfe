import Foundation
import NimbusPlatform
import Synchronization

/// What Authenticate needs to answer for one key without the database.
struct CachedKey: Sendable {
    var keyID: String
    var principal: Principal
    var secretHash: [UInt8]
    var previousSecretHash: [UInt8]?
    var previousValidUntil: Date?
    var expiresAt: Date?

    /// Whether `hash` opens this key at `now`: the current secret until expiry, the previous
    /// one only until its sunset. Compared in constant time; both are always compared.
    func accepts(_ hash: [UInt8], now: Date) -> Bool { acceptedUntil(hash, now: now) != nil }

    /// Until when `hash` keeps opening this key (the key's expiry, or for the previous secret
    /// also its sunset; `.distantFuture` when neither bounds it), or nil when it does not open
    /// it at `now`. Callers cap what they hand out (a signed principal, a cache entry) at this
    /// instant, since a sunset or an expiry passing bumps no auth epoch.
    func acceptedUntil(_ hash: [UInt8], now: Date) -> Date? {
        if let expiresAt, now >= expiresAt { return nil }
        let keyEnd = expiresAt ?? .distantFuture
        let current = ConstantTime.equals(secretHash, hash)
        var previous = false
        if let previousSecretHash, let previousValidUntil {
            previous = ConstantTime.equals(previousSecretHash, hash) && now < previousValidUntil
        }
        if current { return keyEnd }
        if previous, let previousValidUntil { return min(keyEnd, previousValidUntil) }
        return nil
    }
}

/// Authenticate's in-memory cache, keyed by key prefix. An entry is trusted only while the
/// auth epoch it was loaded under is still current: every revocation, rotation, membership,
/// role or deactivation change bumps the epoch in the same transaction (trigger), so the next
/// request after the commit sees a new epoch and reloads. Expiry and rotation sunsets are
/// checked against the clock on every hit, so they need no invalidation. Bounded: when full,
/// the whole map is dropped (cheap, and a reload is one indexed query).
final class AuthCache: Sendable {
    private struct State {
        var epoch: Int64 = -1
        var entries: [String: CachedKey] = [:]
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func lookup(prefix: String, epoch: Int64) -> CachedKey? {
        state.withLock { state in
            if epoch > state.epoch {
                state.entries.removeAll(keepingCapacity: true)
                state.epoch = epoch
                return nil
            }
            // An older epoch (a request that read it before a bump) must not use newer entries
            // nor wind the cache back.
            return epoch == state.epoch ? state.entries[prefix] : nil
        }
    }

    /// Stores an entry read under `epoch`; ignored if the epoch moved on meanwhile.
    func store(prefix: String, _ entry: CachedKey, epoch: Int64) {
        state.withLock { state in
            if epoch > state.epoch {
                state.entries.removeAll(keepingCapacity: true)
                state.epoch = epoch
            }
            guard epoch == state.epoch else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[prefix] = entry
        }
    }

    /// Forgets everything at once (local mutations call this before they return).
    func invalidateAll() {
        state.withLock { state in
            state.entries.removeAll(keepingCapacity: true)
            state.epoch = -1
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}

/// Collects `last_used_at` per key in memory; a background flush writes them in one UPDATE,
/// so authentication never writes per request. Bounded by the number of distinct keys used
/// between flushes (capped: beyond it, later keys wait for the next flush).
final class LastUsedRecorder: Sendable {
    private let pending = Mutex<[String: Date]>([:])
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    func record(keyID: String, at date: Date = Date()) {
        pending.withLock { pending in
            if pending[keyID] != nil || pending.count < capacity { pending[keyID] = date }
        }
    }

    /// Takes everything recorded so far.
    func drain() -> [String: Date] {
        pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
    }
}
