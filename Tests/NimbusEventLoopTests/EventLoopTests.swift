import NimbusEventLoop
import NimbusHTTP
import Synchronization
import Testing

@Suite struct EventLoopTests {
    @Test func executeTimersAndTaskExecutorRunOnTheLoopThread() async throws {
        let group = try EventLoopGroup(threads: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        #expect(!loop.inEventLoop)
        #expect(try await loop.submit { loop.inEventLoop })

        let fired = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
            loop.schedule(after: .milliseconds(20)) { c.resume(returning: loop.inEventLoop) }
        }
        #expect(fired)

        let onLoop = await Task(executorPreference: loop) {
            try? await Task.sleep(for: .milliseconds(1))
            return loop.inEventLoop
        }.value
        #expect(onLoop)
    }

    @Test func cancelledTimerNeverFires() async throws {
        let group = try EventLoopGroup(threads: 1)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let count = Atomic<Int>(0)
        try await loop.submit {
            let timer = loop.scheduleTimer(after: .milliseconds(10)) { count.add(1, ordering: .relaxed) }
            loop.cancelTimer(timer)
            _ = loop.scheduleTimer(after: .milliseconds(15)) { count.add(10, ordering: .relaxed) }
        }
        try await Task.sleep(for: .milliseconds(60))
        #expect(count.load(ordering: .relaxed) == 10)
    }

    @Test func socketPairExchangesBytesThroughTheLoop() async throws {
        let listener = try Socket.listen(on: try SocketAddress(host: "127.0.0.1", port: 0))
        defer { listener.close() }
        let port = try listener.localAddress().port
        let (client, _) = try Socket.connect(to: try SocketAddress(host: "127.0.0.1", port: port))
        defer { client.close() }
        var accepted: Socket?
        for _ in 0..<100 where accepted == nil {
            accepted = try listener.accept()?.socket
            if accepted == nil { try await Task.sleep(for: .milliseconds(5)) }
        }
        let server = try #require(accepted)
        defer { server.close() }
        let written = try [UInt8]("ping".utf8).withUnsafeBytes { try client.write($0) }
        #expect(written == 4)
        var buffer = [UInt8](repeating: 0, count: 16)
        var result = ReadResult.wouldBlock(wantsWrite: false)
        for _ in 0..<100 {
            result = try buffer.withUnsafeMutableBytes { try server.read(into: $0) }
            if result != .wouldBlock(wantsWrite: false) { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(result == .bytes(4))
        #expect(Array(buffer[0..<4]) == Array("ping".utf8))
    }
}
