import Foundation
import Synchronization
import NimbusPostgres
import NimbusTestSupport
import Testing

@Suite("LISTEN/NOTIFY listener")
struct PostgresListenerTests {
    /// Reads the listener's events on a task of its own; `next` takes them in order.
    private final class Events: Sendable {
        private final class Received: Sendable {
            let events = Mutex<[PostgresListener.Event]>([])
        }
        private let received = Received()
        private let reader: Task<Void, Never>

        init(_ stream: AsyncStream<PostgresListener.Event>) {
            let received = self.received
            reader = Task { for await event in stream { received.events.withLock { $0.append(event) } } }
        }

        deinit { reader.cancel() }

        /// The next event, or nil when none came within `timeout`.
        func next(within timeout: Duration = .seconds(10)) async -> PostgresListener.Event? {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let event = received.events.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return event }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }
    }

    @Test("notifications arrive after .connected, with channel and payload; a killed connection reconnects and listens again")
    func notificationsAndReconnect() async throws {
        let db = try await TestPostgres.shared.makeDatabase()
        let pool = try db.makePool()
        var configuration = PostgresConfiguration(dsn: db.adminDSN)
        configuration.applicationName = "listener-under-test"
        let listener = try PostgresListener(configuration: configuration, channels: ["nimbus_test_a", "nimbus_test_b"],
                                            maxBackoff: .milliseconds(200))
        let events = Events(listener.events())
        #expect(await events.next() == .connected)

        try await pool.query("SELECT pg_notify('nimbus_test_a', '41')")
        try await pool.query("SELECT pg_notify('nimbus_test_other', 'not for us')")
        try await pool.query("SELECT pg_notify('nimbus_test_b', '42')")
        #expect(await events.next() == .notification(channel: "nimbus_test_a", payload: "41"))
        #expect(await events.next() == .notification(channel: "nimbus_test_b", payload: "42"))

        // A notification inside a transaction arrives only at commit, and not at all on rollback.
        await #expect(throws: Rollback.self) {
            try await pool.withTransaction { tx in
                try await tx.query("SELECT pg_notify('nimbus_test_a', 'rolled back')")
                throw Rollback()
            }
        }
        try await pool.query("SELECT pg_notify('nimbus_test_a', '43')")
        #expect(await events.next() == .notification(channel: "nimbus_test_a", payload: "43"))

        // The server ends the listener's session: it says so, reconnects, and hears new notifications.
        try await pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'listener-under-test'")
        guard case .disconnected = await events.next() else { Issue.record("no disconnect reported"); return }
        #expect(await events.next() == .connected)
        try await pool.query("SELECT pg_notify('nimbus_test_b', '44')")
        #expect(await events.next() == .notification(channel: "nimbus_test_b", payload: "44"))
        await pool.close()
    }

    @Test("an unreachable server is reported and retried, never thrown at the consumer")
    func unreachableServerIsRetried() async throws {
        let listener = try PostgresListener(configuration: PostgresConfiguration(dsn: try PostgresDSN("postgres://nimbus:secret-pw@127.0.0.1:1/none")),
                                            channels: ["nimbus_test"], maxBackoff: .milliseconds(100))
        let events = Events(listener.events())
        for _ in 0..<2 {
            guard case .disconnected(let reason) = await events.next() else { Issue.record("no disconnect reported"); return }
            #expect(!reason.contains("secret-pw"))
        }
    }

    @Test("channel names must be plain identifiers (they go into the LISTEN text)")
    func channelNamesAreChecked() throws {
        let configuration = PostgresConfiguration(dsn: try PostgresDSN("postgres://localhost/x"))
        #expect(throws: PostgresError.self) { try PostgresListener(configuration: configuration, channels: ["a; DROP TABLE t"]) }
        #expect(throws: PostgresError.self) { try PostgresListener(configuration: configuration, channels: ["Upper"]) }
        #expect(throws: Never.self) { try PostgresListener(configuration: configuration, channels: ["nimbus_identity_auth"]) }
    }
}

private struct Rollback: Error {}
