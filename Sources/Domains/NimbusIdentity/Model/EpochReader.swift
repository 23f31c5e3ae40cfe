/// Reads the auth epoch for many concurrent Authenticate calls with one query at a time.
/// A caller only ever gets the result of a read that *started after it arrived*, so it sees
/// every revocation committed before its request: callers that arrive while a read is in
/// flight wait for the next one, which serves all of them. Under load this turns one database
/// round trip per request into one per batch without weakening "revoked means rejected".
actor EpochReader {
    private var waiting: [CheckedContinuation<Int64, any Error>] = []
    private var running = false
    private let read: @Sendable () async throws -> Int64

    init(read: @escaping @Sendable () async throws -> Int64) {
        self.read = read
    }

    func current() async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append(continuation)
            if !running {
                running = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting = []
            do {
                let epoch = try await read()
                for continuation in batch { continuation.resume(returning: epoch) }
            } catch {
                for continuation in batch { continuation.resume(throwing: error) }
            }
        }
        running = false
    }
}
