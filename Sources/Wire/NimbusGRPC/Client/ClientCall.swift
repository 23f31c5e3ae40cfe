import NimbusEventLoop
import NimbusHTTP
import NimbusRPCCore
import Synchronization

/// One client call on one HTTP/2 stream. Two halves meet here:
/// - the loop half (`HTTP2ClientStreamHandler`, the state machine, the deadline timer, flow
///   control) runs only on the connection's loop;
/// - the task half (`nextMessage`, `write`, `cancel`) is called from the caller's tasks and
///   talks to the loop half through `shared` and `loop.execute`.
final class ClientCall: @unchecked Sendable {
    struct Shared {
        var messages: [[UInt8]] = []
        var head = 0
        /// Bytes of whole messages received and not yet taken by the caller.
        var bufferedBytes = 0
        var status: ClientCallStatus?
        var initialMetadata: Metadata?
        var reader: CheckedContinuation<[UInt8]?, any Error>?
        /// Callers waiting for the response headers (or the end of the call).
        var headerWaiters: [CheckedContinuation<Metadata, Never>] = []
        /// The loop holds back flow-control credit until the caller catches up.
        var creditHeld = false
        /// A unary caller waiting for the whole call (`unaryResponse`).
        var finishWaiter: UnsafeContinuation<Void, Never>?
    }

    let connection: HTTP2ClientConnection
    var loop: EventLoop { connection.loop }
    let maxReceiveMessageSize: Int
    /// Credit goes back to the server at once while the caller has less than this unread.
    let readAheadBytes: Int
    let shared = Mutex(Shared())

    // ── loop-confined ──
    private var machine: ClientCallStateMachine
    private var streamID: Int32 = 0
    private var deadlineTimer: EventLoopTimer?
    private var heldCredit = 0
    private var bodyEnded = false
    private var streamOpen = false
    private var writableWaiter: CheckedContinuation<Void, any Error>?

    static let defaultReadAhead = 256 << 10

    /// A unary call: it buffers its response without holding credit back, so a second
    /// response message ends it at once (a server cannot make it buffer without bound).
    let singleResponse: Bool
    private var messagesReceived = 0

    init(connection: HTTP2ClientConnection, maxReceiveMessageSize: Int, readAheadBytes: Int = defaultReadAhead) {
        self.connection = connection
        self.maxReceiveMessageSize = maxReceiveMessageSize
        self.readAheadBytes = readAheadBytes
        singleResponse = false
        self.machine = ClientCallStateMachine(maxMessageSize: maxReceiveMessageSize)
    }

    /// A unary call (see `singleResponse`).
    init(unaryOn connection: HTTP2ClientConnection, maxReceiveMessageSize: Int) {
        self.connection = connection
        self.maxReceiveMessageSize = maxReceiveMessageSize
        readAheadBytes = .max
        singleResponse = true
        machine = ClientCallStateMachine(maxMessageSize: maxReceiveMessageSize)
    }

    // MARK: - Task side

    /// Opens the stream (and, for unary calls, sends the whole body at once). Throws when the
    /// connection takes no new streams — the call never left this process, so it can go elsewhere.
    func start(headers: HTTP2ClientRequestHeaders, deadline: ContinuousClock.Instant?, body: [UInt8]?) async throws {
        // A caller already on the connection's loop (a gateway handler) opens the stream in
        // place: no closure to allocate, no hop.
        if loop.inEventLoop { return try startOnLoop(headers: headers, deadline: deadline, body: body) }
        try await loop.submit { [self] in try startOnLoop(headers: headers, deadline: deadline, body: body) }
    }

    /// `start` for a caller known to run on the connection's loop.
    func startInPlace(headers: HTTP2ClientRequestHeaders, deadline: ContinuousClock.Instant?, body: [UInt8]?) throws {
        precondition(loop.inEventLoop)
        try startOnLoop(headers: headers, deadline: deadline, body: body)
    }

    private func startOnLoop(headers: HTTP2ClientRequestHeaders, deadline: ContinuousClock.Instant?, body: [UInt8]?) throws {
        streamID = try connection.startStream(headers: headers, handler: self)
        streamOpen = true
        if let body {
            connection.send(streamID: streamID, body, endStream: true)
            bodyEnded = true
        }
        if let deadline {
            let remaining = deadline - .now
            deadlineTimer = loop.scheduleTimer(after: max(remaining, .zero)) { [self] in
                deadlineTimer = nil
                perform(machine.abandon(.deadlineExceeded, "the call's deadline passed before the server answered"))
            }
        }
    }

    /// The next response message; nil after an OK status; throws the call's `RPCError` otherwise.
    func nextMessage() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
            let outcome = shared.withLock { shared -> Result<[UInt8]?, any Error>? in
                if let message = Self.take(&shared) { return .success(message) }
                if let status = shared.status { return status.error.map { .failure($0) } ?? .success(nil) }
                shared.reader = continuation
                return nil
            }
            if let outcome {
                releaseCreditIfDue()
                continuation.resume(with: outcome)
            }
        }
    }

    /// A unary call's outcome in one wait: its single response message and metadata once the
    /// status arrived, or the call's error. (The message is buffered meanwhile: a unary call
    /// is made with `init(unaryOn:)`, bounded by the size limit and to one message.)
    func unaryResponse() async throws -> RPCResponse<[UInt8]> {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let done = shared.withLock { shared -> Bool in
                if shared.status != nil { return true }
                shared.finishWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
        let (status, message, extra, initialMetadata) = shared.withLock { shared in
            (shared.status!, Self.take(&shared), shared.head < shared.messages.count, shared.initialMetadata ?? [:])
        }
        if let error = status.error { throw error }
        guard let message else {
            throw RPCError(.internal, "the server ended a unary call without a response message")
        }
        if extra {
            throw RPCError(.internal, "the server sent more than one response message on a unary call")
        }
        return RPCResponse(message: message, initialMetadata: initialMetadata, trailingMetadata: status.trailers)
    }

    /// The waiting reader, when no queued message is left for it (the status follows them).
    private static func takeReader(_ shared: inout Shared) -> CheckedContinuation<[UInt8]?, any Error>? {
        guard shared.head == shared.messages.count, let reader = shared.reader else { return nil }
        shared.reader = nil
        return reader
    }

    private static func take(_ shared: inout Shared) -> [UInt8]? {
        guard shared.head < shared.messages.count else { return nil }
        let message = shared.messages[shared.head]
        shared.messages[shared.head] = []
        shared.head += 1
        shared.bufferedBytes -= message.count
        if shared.head == shared.messages.count {
            shared.messages.removeAll(keepingCapacity: true)
            shared.head = 0
        }
        return message
    }

    private func releaseCreditIfDue() {
        let release = shared.withLock { shared -> Bool in
            guard shared.creditHeld, shared.bufferedBytes < readAheadBytes else { return false }
            shared.creditHeld = false
            return true
        }
        if release {
            loop.execute { [self] in
                if heldCredit > 0 && streamOpen { connection.consume(streamID: streamID, count: heldCredit) }
                heldCredit = 0
            }
        }
    }

    /// Sends one request message; suspends while the stream's send queue is full.
    func write(framed: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute { [self] in
                if let status = shared.withLock({ $0.status }) {
                    // The server already ended the call: an error surfaces, an OK drops the message.
                    if let error = status.error { continuation.resume(throwing: error) } else { continuation.resume() }
                    return
                }
                let queued = connection.send(streamID: streamID, framed, endStream: false)
                if queued < 64 << 10 {
                    continuation.resume()
                } else {
                    writableWaiter = continuation
                    connection.notifyWhenWritable(streamID: streamID)
                }
            }
        }
    }

    /// Half-closes: no more request messages.
    func finishRequests() {
        loop.execute { [self] in
            guard !bodyEnded, streamOpen else { return }
            bodyEnded = true
            connection.send(streamID: streamID, [], endStream: true)
        }
    }

    /// Ends the call from the caller's side (task cancelled, caller stopped reading).
    func cancel(_ code: RPCCode = .cancelled, _ message: String = "the call was cancelled by the client") {
        loop.execute { [self] in perform(machine.abandon(code, message)) }
    }

    /// The response headers' metadata once they arrived; empty when the call ended without
    /// any (Trailers-Only, failure) — the messages then carry the outcome.
    func responseHeaders() async -> Metadata {
        await withCheckedContinuation { continuation in
            let ready = shared.withLock { shared -> Metadata? in
                if let metadata = shared.initialMetadata { return metadata }
                if shared.status != nil { return [:] }
                shared.headerWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    var status: ClientCallStatus? { shared.withLock { $0.status } }
    var initialMetadata: Metadata { shared.withLock { $0.initialMetadata ?? [:] } }

    // MARK: - Loop side

    private func perform(_ action: ClientCallStateMachine.Action) {
        switch action {
        case .none:
            break
        case .deliver(let messages):
            messagesReceived += messages.count
            if singleResponse && messagesReceived > 1 {
                perform(machine.abandon(.internal, "the server sent more than one response message on a unary call"))
                return
            }
            let reader = shared.withLock { shared -> (CheckedContinuation<[UInt8]?, any Error>, [UInt8])? in
                if shared.messages.isEmpty {
                    shared.messages = messages  // the common case takes the array over, no copy
                    for message in messages { shared.bufferedBytes += message.count }
                } else {
                    for message in messages {
                        shared.messages.append(message)
                        shared.bufferedBytes += message.count
                    }
                }
                guard let reader = shared.reader, let first = Self.take(&shared) else { return nil }
                shared.reader = nil
                return (reader, first)
            }
            if let (reader, message) = reader { reader.resume(returning: message) }
        case .finish(let code, let message, let trailers, let retryable, let resetStream):
            if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
            deadlineTimer = nil
            let status = ClientCallStatus(code: code, message: message, trailers: trailers, retryable: retryable)
            let (reader, headerWaiters, headers, finishWaiter) = shared.withLock { shared in
                shared.status = status
                shared.initialMetadata = shared.initialMetadata ?? machine.initialMetadata
                let waiters = shared.headerWaiters
                shared.headerWaiters = []
                let finishWaiter = shared.finishWaiter
                shared.finishWaiter = nil
                return (Self.takeReader(&shared), waiters, shared.initialMetadata ?? [:], finishWaiter)
            }
            finishWaiter?.resume()
            for waiter in headerWaiters { waiter.resume(returning: headers) }
            if let reader {
                if let error = status.error { reader.resume(throwing: error) } else { reader.resume(returning: nil) }
            }
            if let waiter = writableWaiter {
                writableWaiter = nil
                if let error = status.error { waiter.resume(throwing: error) } else { waiter.resume() }
            }
            // A stream we still have open (our half or theirs) is reset so neither side leaks it.
            if streamOpen && (resetStream || !bodyEnded) {
                connection.reset(streamID: streamID, errorCode: .cancel)
            }
        }
    }
}

extension ClientCall: HTTP2ClientStreamHandler {
    func receivedHeaders(_ fields: [HTTP2ClientHeader], endStream: Bool) {
        let wasWaiting = machine.state == .awaitingHeaders
        let action = machine.receiveHeaders(fields, endStream: endStream)
        if wasWaiting && machine.state == .receivingMessages {
            let metadata = machine.initialMetadata
            let waiters = shared.withLock { shared -> [CheckedContinuation<Metadata, Never>] in
                shared.initialMetadata = metadata
                defer { shared.headerWaiters = [] }
                return shared.headerWaiters
            }
            for waiter in waiters { waiter.resume(returning: metadata) }
        }
        perform(action)
    }

    func receivedData(_ bytes: [UInt8]) {
        perform(machine.receiveData(bytes))
        // Flow control: give the credit back now while the caller keeps up; otherwise hold it
        // until the caller reads, so a slow reader stops the server after one window.
        let keepingUp = shared.withLock { shared -> Bool in
            if shared.bufferedBytes < readAheadBytes || shared.status != nil { return true }
            shared.creditHeld = true
            return false
        }
        if keepingUp {
            connection.consume(streamID: streamID, count: bytes.count)
        } else {
            heldCredit += bytes.count
        }
    }

    func receivedEndOfData() {
        perform(machine.receiveEndOfData())
    }

    func streamClosed(_ errorCode: HTTP2ClientErrorCode, unprocessed: Bool) {
        streamOpen = false
        var action = machine.streamClosed(errorCode)
        if case .finish(let code, let message, let trailers, let retryable, _) = action {
            if errorCode == .internalError && !unprocessed {
                action = .finish(code: .unavailable, message: "the connection to the server was lost",
                                 trailers: trailers, retryable: false, resetStream: false)
            } else {
                action = .finish(code: unprocessed ? .unavailable : code,
                                 message: unprocessed ? "the server did not take the call" : message,
                                 trailers: trailers, retryable: retryable || unprocessed, resetStream: false)
            }
        }
        perform(action)
    }

    func streamWritable() {
        if let waiter = writableWaiter {
            writableWaiter = nil
            waiter.resume()
        }
    }
}
