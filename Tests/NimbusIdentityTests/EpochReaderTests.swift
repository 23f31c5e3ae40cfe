import Synchronization
import Testing
@testable import NimbusIdentity

@Suite("Epoch reader")
struct EpochReaderTests {
    final class Source: Sendable {
        let value = Mutex<Int64>(1)
        let reads = Mutex(0)
    }

    @Test("a caller never gets a read that started before it arrived")
    func freshness() async throws {
        let source = Source()
        let reader = EpochReader {
            let snapshot = source.value.withLock { $0 }  // the read's snapshot is taken when it starts
            source.reads.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(50))
            return snapshot
        }
        async let early = reader.current()  // starts a read seeing 1
        try await Task.sleep(for: .milliseconds(10))
        source.value.withLock { $0 = 2 }  // a revocation commits while that read is in flight
        let late = try await reader.current()  // arrived after the bump: must see 2
        #expect(try await early == 1)
        #expect(late == 2)
    }

    @Test("many concurrent callers share few reads")
    func batching() async throws {
        let source = Source()
        let reader = EpochReader {
            source.reads.withLock { $0 += 1 }
            try await Task.sleep(for: .milliseconds(20))
            return 7
        }
        let values = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<200 { group.addTask { try await reader.current() } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(values.count == 200 && values.allSatisfy { $0 == 7 })
        #expect(source.reads.withLock { $0 } < 20)
    }
}
