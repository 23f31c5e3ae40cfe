/// The messages one side of a streaming call receives, in order. Iteration ends when the peer
/// half-closes and throws an `RPCError` when the call fails. Pulling the next message is what
/// grants the peer flow-control credit, so a slow consumer slows the sender.
public struct RPCMessageStream<Message: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias Failure = any Error

    private let next: @Sendable () async throws -> Message?

    public init(next: @escaping @Sendable () async throws -> Message?) {
        self.next = next
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let next: @Sendable () async throws -> Message?
        public mutating func next() async throws -> Message? { try await next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(next: next) }

    /// The same stream, each element transformed (e.g. decoded from bytes).
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Message) throws -> T) -> RPCMessageStream<T> {
        let next = self.next
        return RPCMessageStream<T> {
            guard let message = try await next() else { return nil }
            return try transform(message)
        }
    }
}

/// Sends messages on one side of a streaming call. `write` suspends while the peer's
/// flow-control window is full.
public struct RPCMessageWriter<Message: Sendable>: Sendable {
    private let write: @Sendable (Message) async throws -> Void

    public init(write: @escaping @Sendable (Message) async throws -> Void) {
        self.write = write
    }

    public func write(_ message: Message) async throws { try await write(message) }

    /// A writer of `T` that transforms each value into `Message` (e.g. encodes it to bytes).
    public func map<T: Sendable>(_ transform: @escaping @Sendable (T) throws -> Message) -> RPCMessageWriter<T> {
        let write = self.write
        return RPCMessageWriter<T> { try await write(try transform($0)) }
    }
}

/// A unary response with the metadata that came with it.
public struct RPCResponse<Message: Sendable>: Sendable {
    public var message: Message
    public var initialMetadata: Metadata
    public var trailingMetadata: Metadata

    public init(message: Message, initialMetadata: Metadata = [:], trailingMetadata: Metadata = [:]) {
        self.message = message
        self.initialMetadata = initialMetadata
        self.trailingMetadata = trailingMetadata
    }
}
