import Foundation
import NimbusBackground
import Testing

@Suite struct LeaseStateMachineTests {
    let t0 = ContinuousClock.now

    @Test func grantRunsFromWhenTheRequestWasSent() {
        var lease = LeaseStateMachine(ttl: .seconds(6))
        // Sent at t0, answered a second later: the local lease still ends at t0 + 6 s, before
        // the database's (which started counting when it ran the statement).
        #expect(lease.answered(granted: true, sentAt: t0, now: t0 + .seconds(1)) == .acquired)
        #expect(lease.isHeld(at: t0 + .milliseconds(5_999)))
        #expect(!lease.isHeld(at: t0 + .seconds(6)))
    }

    @Test func renewalExtendsAndRefusalLoses() {
        var lease = LeaseStateMachine(ttl: .seconds(6))
        _ = lease.answered(granted: true, sentAt: t0, now: t0)
        #expect(lease.answered(granted: true, sentAt: t0 + .seconds(2), now: t0 + .seconds(2)) == .renewed)
        #expect(lease.isHeld(at: t0 + .seconds(7)))
        // Another replica took it (ours had expired in the database): lost at once.
        #expect(lease.answered(granted: false, sentAt: t0 + .seconds(4), now: t0 + .seconds(4)) == .lost)
        #expect(!lease.isHeld(at: t0 + .seconds(4)))
        #expect(lease.answered(granted: false, sentAt: t0 + .seconds(5), now: t0 + .seconds(5)) == .stillNotHeld)
    }

    @Test func failedRenewalKeepsTheLeaseOnlyUntilItsLocalExpiry() {
        var lease = LeaseStateMachine(ttl: .seconds(6))
        _ = lease.answered(granted: true, sentAt: t0, now: t0)
        #expect(lease.failed(now: t0 + .seconds(3)) == .unconfirmed)
        #expect(lease.isHeld(at: t0 + .seconds(3)))
        #expect(lease.failed(now: t0 + .seconds(6)) == .lost)
        #expect(lease.state == .notHeld)
        #expect(lease.failed(now: t0 + .seconds(7)) == .stillNotHeld)
    }

    @Test func expiryWithoutAnyAnswerIsALoss() {
        var lease = LeaseStateMachine(ttl: .seconds(2))
        _ = lease.answered(granted: true, sentAt: t0, now: t0)
        #expect(lease.expire(now: t0 + .seconds(1)) == .renewed)
        #expect(lease.expire(now: t0 + .seconds(2)) == .lost)
        // Taking it again after losing it is an acquisition, not a renewal.
        #expect(lease.answered(granted: true, sentAt: t0 + .seconds(3), now: t0 + .seconds(3)) == .acquired)
    }

    @Test func holderRenewsTwiceBeforeExpiryOthersAskEveryHalfTTL() {
        var lease = LeaseStateMachine(ttl: .seconds(6))
        #expect(lease.nextAttempt(after: t0) == t0 + .seconds(3))
        _ = lease.answered(granted: true, sentAt: t0, now: t0)
        #expect(lease.nextAttempt(after: t0) == t0 + .seconds(2))
    }

    @Test func releaseDropsTheLease() {
        var lease = LeaseStateMachine(ttl: .seconds(6))
        _ = lease.answered(granted: true, sentAt: t0, now: t0)
        lease.released()
        #expect(!lease.isHeld(at: t0))
    }
}

@Suite struct RetryBackoffTests {
    @Test func doublesPerAttemptUpToTheMaximum() {
        let backoff = RetryBackoff(initial: .milliseconds(500), maximum: .seconds(5))
        #expect((1...6).map { backoff.delay(afterAttempts: $0) } == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5),
        ])
        #expect(backoff.delay(afterAttempts: 10_000) == .seconds(5))
    }
}

@Suite struct BackgroundSchemaTests {
    @Test func tablesLiveInTheServiceSchema() {
        let schema = BackgroundSchema(schema: "storage", service: "nimbus-storage")
        #expect(schema.outboxTable == "storage.outbox")
        #expect(schema.leasesTable == "storage.worker_leases")
    }

    @Test func claimStatementSkipsLockedRowsAndExpiredClaimsOnly() {
        let work = WorkClaims(table: "s.jobs", claimColumn: "claimed_until", pending: "done = false", order: "id")
        #expect(work.claimSQL.contains("FOR UPDATE SKIP LOCKED"))
        #expect(work.claimSQL.contains("(claimed_until IS NULL OR claimed_until < now())"))
    }
}

@Suite struct MigrationTemplateTests {
    /// Services copy the template into their migrations; a copy that drifted would break the
    /// module's SQL in that service only.
    @Test(arguments: ["identity/0004_background.up.sql"])
    func serviceMigrationsCarryTheTemplate(file: String) throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let sql = try String(contentsOf: root.appendingPathComponent("Migrations/" + file), encoding: .utf8)
        #expect(sql.contains(BackgroundSchema.migrationSQL))
    }
}
