import Foundation
import NimbusRPCCore
import NimbusTestSupport
import Testing
@testable import NimbusContainers

@Suite struct DockerLogDemultiplexerTests {
    static func frame(_ stream: UInt8, _ text: String) -> Data {
        let payload = Data(text.utf8)
        let n = UInt32(payload.count)
        return Data([stream, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]) + payload
    }

    @Test func splitsFramesIntoStdoutAndStderr() throws {
        var demux = DockerLogDemultiplexer()
        let chunks = try demux.feed(Self.frame(1, "out\n") + Self.frame(2, "err\n"))
        #expect(chunks == [LogChunk(stream: .stdout, data: Data("out\n".utf8)), LogChunk(stream: .stderr, data: Data("err\n".utf8))])
        #expect(demux.pendingByteCount == 0)
    }

    @Test(arguments: [1, 3, 7, 8, 9, 13])
    func reassemblesFramesSplitAnywhere(pieceSize: Int) throws {
        let stream = Self.frame(1, "hello ") + Self.frame(2, "") + Self.frame(1, String(repeating: "x", count: 300))
        var demux = DockerLogDemultiplexer()
        var chunks: [LogChunk] = []
        var offset = 0
        while offset < stream.count {
            let end = min(offset + pieceSize, stream.count)
            chunks += try demux.feed(stream.subdata(in: offset..<end))
            offset = end
        }
        #expect(chunks.map(\.stream) == [.stdout, .stdout])
        #expect(String(decoding: chunks[1].data, as: UTF8.self) == String(repeating: "x", count: 300))
        #expect(demux.pendingByteCount == 0)
    }

    @Test func keepsAnUnfinishedFrame() throws {
        var demux = DockerLogDemultiplexer()
        let frame = Self.frame(1, "partial")
        #expect(try demux.feed(frame.prefix(10)).isEmpty)
        #expect(demux.pendingByteCount == 10)
        #expect(try demux.feed(frame.dropFirst(10)) == [LogChunk(stream: .stdout, data: Data("partial".utf8))])
    }

    @Test func refusesBytesThatAreNotFrames() {
        var demux = DockerLogDemultiplexer()
        #expect(throws: DockerLogDemultiplexer.FormatError.self) {
            try demux.feed(Data("HTTP/1.1 200 OK\r\n".utf8))
        }
    }
}

@Suite struct EngineValuesTests {
    @Test func parsesEngineTimestampsWithNanoseconds() throws {
        let date = try #require(EngineTimestamp.parse("2026-11-25T12:44:56.59543245Z"))
        #expect(abs(date.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) - 0.59543245) < 0.0001)
        #expect(EngineTimestamp.parse("0001-01-01T00:00:00Z") == nil)
        #expect(EngineTimestamp.parse("2026-11-25T12:44:56Z") != nil)
    }

    @Test func cpuPercentComesFromTwoSamples() {
        let first = ContainerStats(readAt: Date(), cpuTotalNanos: 1_000, systemCPUNanos: 10_000, onlineCPUs: 2, memoryUsageBytes: 0, memoryLimitBytes: 0, pids: 1, networkRxBytes: 0, networkTxBytes: 0)
        var second = first
        second.cpuTotalNanos = 2_000
        second.systemCPUNanos = 20_000
        #expect(second.cpuPercent(since: first) == 20)
        #expect(first.cpuPercent(since: second) == nil)
    }

    @Test func imageReferencesAreChecked() {
        #expect(DockerEngineRuntime.isValidReference("localhost/nimbus/app:v1"))
        #expect(!DockerEngineRuntime.isValidReference("Local Host/app"))
        #expect(!DockerEngineRuntime.isValidReference("app?x=1"))
        #expect(!DockerEngineRuntime.isValidReference(""))
    }

    @Test func engineErrorsMapToDistinctStatuses() {
        #expect(ContainerRuntimeError(.engineUnreachable, operation: "x", message: "y").rpcError.code == .unavailable)
        #expect(ContainerRuntimeError(.notFound, operation: "x", message: "y").rpcError.code == .notFound)
        #expect(ContainerRuntimeError(.conflict, operation: "x", message: "y").rpcError.code == .failedPrecondition)
    }
}
