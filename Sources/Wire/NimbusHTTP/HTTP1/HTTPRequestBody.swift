import Synchronization

public enum HTTPBodyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `collect(upTo:)` saw more than `limit` bytes.
    case tooLarge(limit: Int)
    /// The connection closed or the framing broke before the body ended.
    case aborted(String)

    public var description: String {
        switch self {
        case .tooLarge(let limit): "request body exceeds \(limit) bytes"
        case .aborted(let why): "request body aborted: \(why)"
        }
    }
}

/// The producing side of an `HTTPRequestBody` (the connection): told on the consumer's first
/// read (to answer `Expect: 100-continue`) and whenever the consumer took a chunk (to resume
/// reading the socket). Called on whatever thread the consumer runs; implementations hop.
protocol HTTPRequestBodySource: AnyObject, Sendable {
    func bodyDemanded()
    func bodyConsumed(bufferedBytes: Int)
}

/// A request body delivered in chunks as the client sends them. The connection reads the
/// socket only while less than its high-water mark is buffered and unread here, so a slow
/// consumer slows the sender. `Expect: 100-continue` is answered when the handler first asks
/// for the body. Iteration throws `HTTPBodyError.aborted` when the client goes away or the
/// framing is malformed. Consume it once, from one task.
public final class HTTPRequestBody: AsyncSequence, Sendable {
    public typealias Element = ArraySlice<UInt8>

    /// Content-Length; nil when chunked.
    public let expectedLength: Int?
    private let state: Mutex<State>
    private let source: (any HTTPRequestBodySource)?

    private struct State: ~Copyable {
        var chunks: [ArraySlice<UInt8>] = []
        var head = 0
        var buffered = 0
        var finished = false
        var failure: HTTPBodyError?
        var demanded = false
        var waiter: CheckedContinuation<ArraySlice<UInt8>?, any Error>?
    }

    /// A body that is already complete (HTTP/2, tests, the buffered layer).
    public convenience init(bytes: [UInt8]) {
        self.init(expectedLength: bytes.count, source: nil)
        if !bytes.isEmpty { _ = append(bytes[...]) }
        finish()
    }

    public static var empty: HTTPRequestBody { HTTPRequestBody(bytes: []) }

    init(expectedLength: Int?, source: (any HTTPRequestBodySource)?) {
        self.expectedLength = expectedLength
        self.source = source
        self.state = Mutex(State())
    }

    // MARK: consuming

    /// The next chunk, nil at the end.
    public func next() async throws -> ArraySlice<UInt8>? {
        let first = state.withLock { s -> Bool in
            defer { s.demanded = true }
            return !s.demanded
        }
        if first { source?.bodyDemanded() }
        // Fast path: a chunk (or the end) is already here.
        switch state.withLock({ Self.take(&$0) }) {
        case .chunk(let chunk, let left):
            source?.bodyConsumed(bufferedBytes: left)
            return chunk
        case .end: return nil
        case .failed(let error): throw error
        case .empty: break
        }
        let chunk = try await withCheckedThrowingContinuation { continuation in
            let taken = state.withLock { s -> Taken in
                let taken = Self.take(&s)
                if case .empty = taken { s.waiter = continuation }
                return taken
            }
            switch taken {
            case .chunk(let chunk, _): continuation.resume(returning: chunk)
            case .end: continuation.resume(returning: nil)
            case .failed(let error): continuation.resume(throwing: error)
            case .empty: break  // waiting; the producer resumes it
            }
        }
        if chunk != nil { source?.bodyConsumed(bufferedBytes: bufferedBytes) }
        return chunk
    }

    private enum Taken { case chunk(ArraySlice<UInt8>, left: Int), end, failed(HTTPBodyError), empty }

    private static func take(_ s: inout State) -> Taken {
        if s.head < s.chunks.count {
            let chunk = s.chunks[s.head]
            s.head += 1
            if s.head == s.chunks.count {
                s.chunks.removeAll(keepingCapacity: true)
                s.head = 0
            }
            s.buffered -= chunk.count
            return .chunk(chunk, left: s.buffered)
        }
        if let failure = s.failure { return .failed(failure) }
        return s.finished ? .end : .empty
    }

    /// The whole body, refusing more than `limit` bytes (`HTTPBodyError.tooLarge`, thrown as
    /// soon as Content-Length or the bytes received say so).
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        if let expectedLength, expectedLength > limit { throw HTTPBodyError.tooLarge(limit: limit) }
        var out: [UInt8] = []
        if let expectedLength { out.reserveCapacity(expectedLength) }
        while let chunk = try await next() {
            if chunk.count > limit - out.count { throw HTTPBodyError.tooLarge(limit: limit) }
            out.append(contentsOf: chunk)
        }
        return out
    }

    /// Whether the consumer has asked for the body yet.
    public var wasDemanded: Bool { state.withLock { $0.demanded } }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: HTTPRequestBody
        public mutating func next() async throws -> ArraySlice<UInt8>? { try await body.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }

    // MARK: producing (the connection)

    /// Adds a chunk; returns the bytes now buffered and unread.
    @discardableResult
    func append(_ chunk: ArraySlice<UInt8>) -> Int {
        let (waiter, buffered) = state.withLock { s -> (CheckedContinuation<ArraySlice<UInt8>?, any Error>?, Int) in
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, s.buffered)
            }
            s.chunks.append(chunk)
            s.buffered += chunk.count
            return (nil, s.buffered)
        }
        waiter?.resume(returning: chunk)
        return buffered
    }

    func finish() {
        let waiter = state.withLock { s in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    func fail(_ error: HTTPBodyError) {
        let waiter = state.withLock { s -> CheckedContinuation<ArraySlice<UInt8>?, any Error>? in
            guard !s.finished, s.failure == nil else { return nil }
            s.failure = error
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
    }

    var bufferedBytes: Int { state.withLock { $0.buffered } }
    var isFinished: Bool { state.withLock { $0.finished || $0.failure != nil } }
}
