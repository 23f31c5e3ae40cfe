import Foundation
import NimbusEventLoop
@testable import NimbusGRPC
import NimbusHTTP
import Synchronization
import Testing

/// Host names are looked up off the caller's thread: a slow DNS answer must not stall the event
/// loop a handler (and every other call on it) runs on.
@Suite struct ClientNameLookupTests {
    @Test func aSlowLookupDoesNotBlockTheCallersLoop() async throws {
        let group = try EventLoopGroup(threads: 1, name: "lookup-test")
        defer { group.shutdown() }
        let loop = group.loops[0]
        let lookedUpOnLoop = Mutex<Bool?>(nil)
        let timerFired = Mutex<ContinuousClock.Instant?>(nil)
        let (address, returned) = try await Task(executorPreference: loop) { () async throws -> (SocketAddress, ContinuousClock.Instant) in
            // A timer on the same loop, due long before the lookup ends: it fires only if the
            // loop keeps running meanwhile.
            _ = loop.scheduleTimer(after: .milliseconds(50)) { timerFired.withLock { $0 = .now } }
            let address = try await ClientConnectionPool.lookUp(host: "slow.example", port: 7001) { _, port in
                lookedUpOnLoop.withLock { $0 = loop.inEventLoop }
                Thread.sleep(forTimeInterval: 0.4)
                return try SocketAddress(host: "127.0.0.1", port: port)
            }
            return (address, .now)
        }.value
        #expect(address.description == "127.0.0.1:7001")
        #expect(lookedUpOnLoop.withLock { $0 } == false, "the blocking lookup ran on the loop")
        let fired = try #require(timerFired.withLock { $0 }, "the loop's timer never fired")
        #expect(fired < returned, "the loop was blocked while the name was looked up")
    }

    @Test func literalsAndLocalhostResolveInPlaceAndBadNamesFail() async throws {
        #expect(try await ClientConnectionPool.lookUp(host: "127.0.0.1", port: 1).description == "127.0.0.1:1")
        #expect(try await ClientConnectionPool.lookUp(host: "::1", port: 2).description == "[::1]:2")
        #expect(try await ClientConnectionPool.lookUp(host: "localhost", port: 3).description == "127.0.0.1:3")
        await #expect(throws: SocketError.self) { try await ClientConnectionPool.lookUp(host: "no-such-host.invalid", port: 4) }
    }
}
