import Foundation
import NimbusEventLoop
import NimbusGRPC
import NimbusProto
import NimbusRPCCore
import NimbusTestingProto
import Synchronization
import Testing

/// Echo whose `say` can park on a gate ("block"), sleep (`delayMs`) and report whether it ran
/// on one of the server's loop threads before and after suspending.
private final class GateEcho: TestingV1.EchoService, @unchecked Sendable {
    let gate = Mutex<[CheckedContinuation<Void, Never>]>([])
    let loops = Mutex<[EventLoop]>([])
    let offLoop = Atomic<Int>(0)

    private func onLoop() -> Bool { loops.withLock { $0.contains { $0.inEventLoop } } }

    func open() {
        for waiter in gate.withLock({ waiters in defer { waiters.removeAll() }; return waiters }) { waiter.resume() }
    }

    func say(_ request: TestingV1.EchoRequest, context: ServerContext) async throws -> TestingV1.EchoResponse {
        if !onLoop() { offLoop.add(1, ordering: .relaxed) }
        if request.text == "block" {
            await withCheckedContinuation { continuation in gate.withLock { $0.append(continuation) } }
        }
        if request.delayMs > 0 { try await Task.sleep(for: .milliseconds(Int(request.delayMs))) }
        if !onLoop() { offLoop.add(1, ordering: .relaxed) }
        return TestingV1.EchoResponse(text: request.text)
    }

    func expand(_ request: TestingV1.EchoRequest, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {}
    func collect(_ requests: RPCMessageStream<TestingV1.EchoRequest>, context: ServerContext) async throws -> TestingV1.EchoResponse { .init() }
    func chat(_ requests: RPCMessageStream<TestingV1.EchoRequest>, responses: RPCMessageWriter<TestingV1.EchoResponse>, context: ServerContext) async throws {}
}

/// Unary handlers run in a few long-lived worker tasks per loop (`GRPCUnaryRunner`): what a
/// task per call gave for free must still hold.
@Suite("Unary handlers on the loop's workers", .serialized)
struct GRPCUnaryRunnerTests {
    fileprivate static func start(_ service: GateEcho, threads: Int = 1) async throws -> GRPCServer {
        var configuration = GRPCServerConfiguration(port: 0, threads: threads)
        configuration.accessLog = false
        let server = try GRPCServer(configuration: configuration, services: [service])
        try await server.start()
        service.loops.withLock { $0 = server.loops }
        return server
    }

    @Test(.timeLimit(.minutes(1)))
    func callsBehindASuspendedHandlerStillRun() async throws {
        let service = GateEcho()
        let server = try await Self.start(service)
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { channel.close() }
        let echo = TestingV1.EchoClient(transport: channel)
        // Several blocked handlers, each holding the worker it ran on, interleaved with quick
        // calls on the same connection (so some arrive in the same read as a blocked one).
        let blocked = (0..<4).map { _ in Task { try await echo.say(TestingV1.EchoRequest(text: "block")) } }
        let options = CallOptions(timeout: .seconds(10))
        let quick = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<200 { group.addTask { try await echo.say(TestingV1.EchoRequest(text: "q\(i)"), options: options).text } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(quick.count == 200)
        // The quick calls all finished while the blocked ones still wait.
        while service.gate.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(5)) }
        service.open()
        for call in blocked { #expect(try await call.value.text == "block") }
        #expect(service.offLoop.load(ordering: .relaxed) == 0, "a handler ran off the server's loop")
    }

    @Test(.timeLimit(.minutes(1)))
    func aCancelledCallDoesNotCancelTheCallsAfterIt() async throws {
        let service = GateEcho()
        let server = try await Self.start(service)
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
        defer { channel.close() }
        let echo = TestingV1.EchoClient(transport: channel)
        for round in 0..<5 {
            // The deadline cancels the handler (and the task it ran in) mid-sleep …
            await #expect(throws: RPCError.self) {
                try await echo.say(TestingV1.EchoRequest(text: "late", delayMs: 5_000), options: CallOptions(timeout: .milliseconds(100)))
            }
            // … and later calls that sleep are not born cancelled.
            let texts = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<8 { group.addTask { try await echo.say(TestingV1.EchoRequest(text: "r\(round).\(i)", delayMs: 20)).text } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(texts.count == 8)
        }
        #expect(service.offLoop.load(ordering: .relaxed) == 0, "a handler ran off the server's loop")
    }
}

@Suite("Server loops after shutdown")
struct ServerLoopLifetimeTests {
    /// The per-loop router state (runner, actor) points back at its loop; a stopped loop must
    /// still be freed (with its epoll and eventfd descriptors).
    @Test(.timeLimit(.minutes(1)))
    func loopsAreFreedAfterShutdown() async throws {
        weak var firstLoop: EventLoop?
        do {
            var configuration = GRPCServerConfiguration(port: 0, threads: 2)
            configuration.accessLog = false
            let server = try GRPCServer(configuration: configuration, services: [GateEcho()])
            try await server.start()
            firstLoop = server.loops.first
            let channel = try GRPCChannel(endpoints: "127.0.0.1:\(server.port)")
            let echo = TestingV1.EchoClient(transport: channel)
            for i in 0..<20 { _ = try await echo.say(TestingV1.EchoRequest(text: "\(i)")) }
            channel.close()
            await server.shutdown(gracePeriod: .seconds(1))
        }
        for _ in 0..<200 where firstLoop != nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(firstLoop == nil, "a stopped server loop is still referenced")
    }
}
