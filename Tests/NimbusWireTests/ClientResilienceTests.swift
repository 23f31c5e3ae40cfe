import Foundation
import NimbusGRPC
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Testing

/// Peers that restart, die or refuse: reconnect with backoff, retry elsewhere, mutual TLS.
@Suite("Client resilience against Python grpcio servers", .serialized, .enabled(if: PythonEchoServer.available, "needs .venv (scripts/install-deps.sh)"))
struct ClientResilienceTests {
    static func fastBackoff(_ configuration: inout GRPCChannel.Configuration) {
        configuration.backoff = ClientBackoff(initial: .milliseconds(50), maximum: .milliseconds(500))
    }

    @Test(arguments: ClientTransport.allCases)
    func peerRestartOnTheSamePortIsReconnected(_ transport: ClientTransport) async throws {
        let tlsDirectory = transport == .tls ? PythonEchoServer.makeTLSDirectory() : nil
        let first = try PythonEchoServer.start(.init(tlsDirectory: tlsDirectory))
        let channel = try SharedEchoServers.channel(to: [first], transport, Self.fastBackoff)
        defer { channel.close() }
        #expect(try await channel.echo.say(EchoRequest(text: "before")).text == "before")

        first.kill()
        // While it is down calls fail fast with UNAVAILABLE (no hang).
        _ = await expectRPCError(.unavailable) {
            _ = try await channel.echo.say(EchoRequest(text: "down"), options: CallOptions(timeout: .seconds(5)))
        }

        let second = try PythonEchoServer.start(.init(port: first.port, tlsDirectory: tlsDirectory))
        defer { second.stop() }
        // The next call after the restart succeeds: the channel reconnects by itself.
        #expect(try await channel.echo.say(EchoRequest(text: "after")).text == "after")
    }

    @Test(arguments: ClientTransport.allCases)
    func killingOneOfTwoReplicasLosesNoLaterCall(_ transport: ClientTransport) async throws {
        let tlsDirectory = transport == .tls ? PythonEchoServer.makeTLSDirectory() : nil
        let a = try PythonEchoServer.start(.init(tlsDirectory: tlsDirectory))
        let b = try PythonEchoServer.start(.init(tlsDirectory: tlsDirectory))
        defer { b.stop() }
        let channel = try SharedEchoServers.channel(to: [a, b], transport, Self.fastBackoff)
        defer { channel.close() }

        // Round-robin: both replicas answer.
        var ports: [String] = []
        for i in 0..<10 {
            let response = try await channel.echo.sayWithMetadata(EchoRequest(text: "rr\(i)"))
            ports.append(response.initialMetadata["x-server-port"] ?? "?")
        }
        #expect(Set(ports) == [String(a.port), String(b.port)])

        a.kill()  // returns once the process is gone (and the kernel closed its sockets)
        // Every later call succeeds, sequential and concurrent: the dead replica's connect
        // failures are retried on the live one, and it gets ejected.
        for i in 0..<30 {
            let response = try await channel.echo.sayWithMetadata(EchoRequest(text: "after\(i)"))
            #expect(response.message.text == "after\(i)")
            #expect(response.initialMetadata["x-server-port"] == String(b.port))
        }
        let echo = channel.echo
        let answered = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<200 { group.addTask { try await echo.say(EchoRequest(text: "p\(i)")).text } }
            var count = 0
            for try await _ in group { count += 1 }
            return count
        }
        #expect(answered == 200)
    }

    @Test func endpointThatNeverAnswersIsSkipped() async throws {
        let live = try SharedEchoServers.server(.h2c)
        // A port nothing listens on: bind, read its number, close.
        let deadPort = try { () throws -> Int in
            let dead = try PythonEchoServer.start()
            defer { dead.kill() }
            return dead.port
        }()
        var configuration = GRPCChannel.Configuration(endpoints: [
            ClientEndpoint(host: "127.0.0.1", port: deadPort), ClientEndpoint(host: "127.0.0.1", port: live.port),
        ])
        Self.fastBackoff(&configuration)
        let channel = try GRPCChannel(configuration: configuration)
        defer { channel.close() }
        for i in 0..<40 {
            #expect(try await channel.echo.say(EchoRequest(text: "ok\(i)")).text == "ok\(i)")
        }
    }

    @Test func keepaliveDetectsAFrozenPeer() async throws {
        let server = try PythonEchoServer.start()
        defer { server.stop() }
        var configuration = GRPCChannel.Configuration(endpoints: [ClientEndpoint(host: "127.0.0.1", port: server.port)])
        configuration.keepalive = GRPCChannel.Keepalive(interval: .milliseconds(300), timeout: .milliseconds(300))
        configuration.maxAttempts = 1
        let channel = try GRPCChannel(configuration: configuration)
        defer { channel.close() }
        let echo = channel.echo
        #expect(try await echo.say(EchoRequest(text: "warm")).text == "warm")
        let stuck = Task { try await echo.say(EchoRequest(text: "stuck", delayMs: 10_000)) }
        try await Task.sleep(for: .milliseconds(100))
        // The process still holds its sockets but answers nothing, PING included.
        Foundation.kill(server.process.processIdentifier, SIGSTOP)
        defer { Foundation.kill(server.process.processIdentifier, SIGCONT) }
        let started = ContinuousClock.now
        _ = await expectRPCError(.unavailable) { _ = try await stuck.value }
        #expect(ContinuousClock.now - started < .seconds(3), "the dead connection was noticed by keepalive, not by the call's end")
    }

    @Test func mutualTLS() async throws {
        let directory = PythonEchoServer.makeTLSDirectory()
        let server = try PythonEchoServer.start(.init(tlsDirectory: directory, mutualTLS: true))
        defer { server.stop() }
        let endpoint = [ClientEndpoint(host: "127.0.0.1", port: server.port)]

        let withCertificate = try GRPCChannel(configuration: .init(endpoints: endpoint, tls: GRPCChannel.TLS(
            caFile: "\(directory)/server.pem", certificateFile: "\(directory)/client.pem",
            privateKeyFile: "\(directory)/client.key", serverName: "localhost")))
        defer { withCertificate.close() }
        #expect(try await withCertificate.echo.say(EchoRequest(text: "mtls")).text == "mtls")

        var noCertificate = GRPCChannel.Configuration(endpoints: endpoint, tls: GRPCChannel.TLS(caFile: "\(directory)/server.pem", serverName: "localhost"))
        noCertificate.maxAttempts = 1
        let anonymous = try GRPCChannel(configuration: noCertificate)
        defer { anonymous.close() }
        _ = await expectRPCError(.unavailable) { _ = try await anonymous.echo.say(EchoRequest(text: "x")) }

        // A certificate for another name is refused too.
        var wrongName = GRPCChannel.Configuration(endpoints: endpoint, tls: GRPCChannel.TLS(
            caFile: "\(directory)/server.pem", certificateFile: "\(directory)/client.pem",
            privateKeyFile: "\(directory)/client.key", serverName: "not-this-host.example"))
        wrongName.maxAttempts = 1
        let mismatched = try GRPCChannel(configuration: wrongName)
        defer { mismatched.close() }
        _ = await expectRPCError(.unavailable) { _ = try await mismatched.echo.say(EchoRequest(text: "x")) }
    }

    @Test func badConfigurationIsRefusedUpFront() {
        #expect(throws: ClientConfigurationError.self) { try GRPCChannel(endpoints: "") }
        #expect(throws: ClientConfigurationError.self) { try GRPCChannel(endpoints: "localhost:0") }
        #expect(throws: ClientConfigurationError.self) {
            try GRPCChannel(endpoints: "localhost:7001", tls: GRPCChannel.TLS(certificateFile: "/tmp/cert.pem"))
        }
        #expect(throws: ClientConfigurationError.self) {
            try GRPCChannel(endpoints: "localhost:7001", tls: GRPCChannel.TLS(caFile: "/nonexistent/ca.pem"))
        }
    }
}
