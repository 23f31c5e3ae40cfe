import Foundation
import NimbusPostgres
import Logging
import NimbusRPCCore

/// Auth leases: how a gateway may cache Authenticate answers without weakening revocation.
///
/// A gateway watches the auth epoch (`WatchAuthEpoch`) and acknowledges each epoch it sees
/// (`AckAuthEpoch`); an ack of the *current* epoch grants it a lease until `now() + authLease`,
/// recorded in `identity.auth_watchers`. It serves cached answers only while its own lease
/// clock (started before it sent the ack, so it ends first) runs and only for entries learned
/// under that epoch. Every transaction that bumps the epoch (revoke, rotate, deactivate,
/// membership and role changes …) waits after its commit, before the RPC answers, until each
/// watcher with an unexpired lease has acknowledged the new epoch; an unresponsive watcher
/// holds it up at most until its lease runs out. So once a client holds the answer to a
/// revocation, no gateway anywhere accepts the key.
extension IdentityCore {
    struct AckResult: Sendable, Equatable {
        var granted: Bool
        var currentEpoch: Int64
    }

    /// Records that `watcherID` has seen `epoch`. Granted only when `epoch` is current: the
    /// epoch row is read `FOR SHARE`, so an ack either commits before a concurrent bump's commit
    /// (which then sees it and waits for the next ack) or sees the bumped epoch and is refused.
    func ackAuthEpoch(watcherID: String, epoch: Int64) async throws -> AckResult {
        guard !watcherID.isEmpty, watcherID.utf8.count <= 128 else { throw IdentityError.invalid("watcher_id must be 1–128 characters") }
        let seconds = Double(authLease.components.seconds) + Double(authLease.components.attoseconds) / 1e18
        let rows = try await query("""
            WITH current AS (SELECT epoch FROM identity.auth_epoch WHERE singleton FOR SHARE),
            granted AS (
                INSERT INTO identity.auth_watchers (watcher_id, acked_epoch, lease_expires_at)
                SELECT $1, $2::bigint, now() + make_interval(secs => $3::double precision)
                FROM current WHERE $2::bigint >= current.epoch
                ON CONFLICT (watcher_id) DO UPDATE
                    SET acked_epoch = excluded.acked_epoch, lease_expires_at = excluded.lease_expires_at
                RETURNING 1)
            SELECT (SELECT epoch FROM current) AS epoch, EXISTS (SELECT 1 FROM granted) AS granted
            """, watcherID, String(epoch), String(seconds))
        guard let row = rows.first else { throw IdentityError(.internal, "auth epoch missing") }
        return AckResult(granted: try row.decode(Bool.self, column: "granted"), currentEpoch: try row.decode(Int64.self, column: "epoch"))
    }

    /// Waits until every watcher with an unexpired lease has acknowledged `epoch` or later.
    /// Bounded: a lease is at most `authLease` long and can only be renewed with the current
    /// epoch, so after that every lease has either caught up or run out.
    func awaitLeases(epoch: Int64) async {
        let deadline = ContinuousClock.now + authLease + .milliseconds(500)
        var pause = Duration.milliseconds(1)
        while true {
            do {
                let rows = try await db.query("""
                    SELECT count(*) AS behind FROM identity.auth_watchers
                    WHERE lease_expires_at > now() AND acked_epoch < $1::bigint
                    """, binds: [String(epoch)])
                if (try rows.first?.decode(Int64.self, column: "behind")) == 0 { return }
            } catch {
                logger.warning("could not check auth leases", metadata: ["error": "\(error)"])
            }
            if ContinuousClock.now >= deadline {
                logger.warning("auth leases still behind after a lease period; answering anyway", metadata: ["epoch": "\(epoch)"])
                return
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(10))
        }
    }

    /// Forgets watchers whose lease ran out long ago (gateways that went away).
    func pruneAuthWatchers() async {
        _ = try? await db.query("DELETE FROM identity.auth_watchers WHERE lease_expires_at < now() - interval '1 hour'", binds: [])
    }
}
