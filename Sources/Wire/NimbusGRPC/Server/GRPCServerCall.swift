import Logging
import NimbusEventLoop
import NimbusHTTP
import NimbusRPCCore

/// One server-side RPC, and the HTTP/2 stream it arrived on (one object per request):
/// deframes requests, runs the handler on the connection's loop (so the handler never changes
/// thread and needs no lock here), and sends headers, messages and the status. Every path
/// ends in `finish(_:sendStatus:)` exactly once.
///
/// @unchecked Sendable: all state is touched on `loop` only. Handlers run isolated to the
/// loop (unary) or prefer it as executor (streaming); reads and writes called from elsewhere
/// hop back first.
final class GRPCServerCall: HTTP2ServerStream, @unchecked Sendable {
    let entry: GRPCMethodEntry
    var method: ServerMethod { entry.method }
    let router: GRPCRouter
    let context: ServerContext
    /// The router's state on this loop, with the loop's unary runner (kept by the loop for its
    /// lifetime, hence not retained here).
    private unowned(unsafe) let loopState: GRPCLoopState
    private let started: ContinuousClock.Instant
    /// `started` as `MonotonicTime`, for the handling time (integer arithmetic, no `Duration`).
    private let startedNanoseconds: UInt64
    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    @exclusivity(unchecked) private var deframer: GRPCMessageDeframer
    @exclusivity(unchecked) private var messages: [[UInt8]] = []
    @exclusivity(unchecked) private var messagesHead = 0
    @exclusivity(unchecked) private var unaryRequest: [UInt8]?
    @exclusivity(unchecked) private var unaryCount = 0
    @exclusivity(unchecked) private var requestEnded = false
    @exclusivity(unchecked) private var pendingConsume = 0
    @exclusivity(unchecked) private var readWaiter: UnsafeContinuation<[UInt8]?, any Error>?
    @exclusivity(unchecked) private var writeWaiter: UnsafeContinuation<Void, any Error>?
    @exclusivity(unchecked) private var task: Task<Void, Never>?
    /// The worker running this unary call's handler (see `GRPCUnaryRunner`), set only while it
    /// runs it (the worker's drain holds both), hence not retained.
    @exclusivity(unchecked) private unowned(unsafe) var worker: GRPCUnaryRunner.Worker?
    @exclusivity(unchecked) private var deadlineTimer: EventLoopTimer?
    @exclusivity(unchecked) private var headersSent = false
    @exclusivity(unchecked) private(set) var finished = false

    /// Buffered response bytes above which a streaming writer waits for the peer.
    private static let writeHighWater = 256 << 10

    /// `timeout` is the parsed `grpc-timeout` (the router has rejected a malformed one);
    /// `compression` the request's `grpc-encoding` (the router has rejected unsupported ones).
    init(opening: HTTP2StreamOpening, head: borrowing HTTP2RequestHead, timeout: Duration?, compression: GRPCMessageEncoding?,
         entry: GRPCMethodEntry, router: GRPCRouter, loopState: GRPCLoopState) {
        self.entry = entry
        self.loopState = loopState
        let method = entry.method
        self.router = router
        self.deframer = GRPCMessageDeframer(maxMessageSize: router.configuration.maxReceiveMessageSize)
        deframer.decompression = compression
        let metadata = Self.metadata(of: head)
        // When the request became visible to the loop: the tick's timestamp (one clock read per
        // tick, not per call).
        let now = opening.loop.tickStart
        self.started = now
        self.startedNanoseconds = opening.loop.tickStartNanoseconds
        self.context = ServerContext(
            method: method.descriptor, metadata: metadata, deadline: timeout.map { now + $0 }, peer: opening.peer)
        self.timeout = timeout
        super.init(opening: opening)
    }

    private let timeout: Duration?

    /// The request's custom metadata: every field the router did not tag as reserved, `-bin`
    /// values base64-decoded (an undecodable one is dropped). One allocation, none when there
    /// is no custom metadata.
    private static func metadata(of head: borrowing HTTP2RequestHead) -> Metadata {
        let tags = head.fieldTags
        var count = 0
        for tag in tags where tag < GRPCRouter.reservedTag { count += 1 }
        if count == 0 { return Metadata() }
        var entries: [(key: String, value: Metadata.Value)] = []
        entries.reserveCapacity(count)
        let fields = head.fields
        for index in fields.indices {
            switch tags[index] {
            case GRPCRouter.textMetadataTag:
                entries.append((fields[index].name, .string(fields[index].value)))
            case GRPCRouter.binaryMetadataTag:
                if let bytes = GRPCBase64.decode(fields[index].value) { entries.append((fields[index].name, .binary(bytes))) }
            default:
                continue
            }
        }
        return Metadata(lowercaseEntries: entries)
    }

    /// Arms the deadline and, for streaming methods, starts the handler at once.
    ///
    /// The deadline timer is armed lazily, at the end of the loop tick, and only if the call is
    /// still running then: most unary calls start and finish within the tick their request
    /// arrived in (the handler starts synchronously), and a timer per call that is always
    /// cancelled was a closure, a dictionary entry and a heap push for nothing.
    func start() {
        if timeout != nil { loopState.watchDeadline(self) }
        if let handler = entry.streamingHandler { startStreaming(handler) }
    }

    /// Tick end: the call is still running, so its deadline needs a timer now.
    func armDeadline() {
        guard !finished, deadlineTimer == nil, let timeout else { return }
        let remaining = timeout - (ContinuousClock.now - started)
        if remaining <= .zero {
            deadlineExpired()
            return
        }
        // A strong capture (no box allocation); `finish` always cancels the timer.
        deadlineTimer = loop.scheduleTimer(after: remaining) { self.deadlineExpired() }
    }

    private func deadlineExpired() {
        deadlineTimer = nil
        finish(RPCError(.deadlineExceeded, "deadline exceeded"))
    }

    // MARK: stream hooks

    override func streamReceivedData(_ bytes: UnsafeRawBufferPointer) {
        if finished {
            consume(bytes.count)
            return
        }
        let backlog = messages.count - messagesHead
        do {
            try deframer.process(bytes) { message in deliver(message) }
        } catch {
            consume(bytes.count)
            switch error.kind {
            case .messageTooLarge: finish(RPCError(.resourceExhausted, "\(error)"))
            default: finish(RPCError(.internal, "\(error)"))
            }
            return
        }
        // Flow control: what the handler has not caught up with stays charged to the window.
        if backlog == 0 || isUnary {
            consume(bytes.count)
        } else {
            pendingConsume += bytes.count
        }
    }

    override func streamReceivedEnd() {
        requestEnded = true
        if finished { return }
        do {
            try deframer.finish()
        } catch {
            finish(RPCError(.internal, "\(error)"))
            return
        }
        if entry.isUnary {
            guard unaryCount == 1, unaryRequest != nil else {
                finish(RPCError(unaryCount == 0 ? .internal : .unimplemented,
                                unaryCount == 0 ? "unary call ended without a request message" : "unary call received \(unaryCount) request messages"))
                return
            }
            startUnary()
        } else {
            if let waiter = readWaiter, messagesHead == messages.count {
                readWaiter = nil
                waiter.resume(returning: nil)
            }
        }
    }

    override func streamClosed(errorCode: UInt32) {
        // Closed before we sent the status: the client cancelled (RST_STREAM) or the
        // connection died. Either way the handler is cancelled.
        if !finished {
            finish(RPCError(.cancelled, "the client cancelled the call"), sendStatus: false)
        }
        task = nil  // (the session clears `onOutboundDrained`)
    }

    private var isUnary: Bool { entry.isUnary }

    /// Where handler tasks run: the connection's loop (default: no thread hop at all) or the
    /// global pool (`GRPCServerConfiguration.runHandlersOnEventLoop = false`), from which every
    /// completion, read and write hops back to the loop.
    private var handlerExecutor: any TaskExecutor {
        router.configuration.runHandlersOnEventLoop ? loop : globalConcurrentExecutor
    }

    // MARK: running the handler

    /// On the loop, a worker of the loop's `GRPCUnaryRunner` runs the handler later in this
    /// tick (no task per call); on the global pool, a task of its own.
    private func startUnary() {
        if router.configuration.runHandlersOnEventLoop {
            loopState.runner.submit(self)
        } else {
            task = Task(executorPreference: globalConcurrentExecutor) { [self] in await self.runUnary() }
        }
    }

    /// On the global pool: runs the handler and completes the call back on the loop.
    private func runUnary() async {
        guard !finished, let handler = entry.unaryHandler, let request = unaryRequest else { return }
        unaryRequest = nil
        let result: Result<[UInt8], any Error>
        do {
            result = .success(try await handler(request, context))
        } catch {
            result = .failure(error)
        }
        loop.execute { self.completeUnary(result) }
    }

    /// For a runner's worker, on the loop: the handler and request of this call if it is still
    /// to run (the worker awaits the handler itself: one async frame less per call).
    func takeUnaryWork(for worker: GRPCUnaryRunner.Worker) -> (ServerHandler.UnaryHandler, [UInt8])? {
        guard !finished, let handler = entry.unaryHandler, let request = unaryRequest else { return nil }
        unaryRequest = nil
        self.worker = worker
        return (handler, request)
    }

    /// For a runner's worker, on the loop: the handler's outcome.
    func completeUnary(fromWorker result: Result<[UInt8], any Error>) {
        worker = nil
        completeUnary(result)
    }

    private func startStreaming(_ handler: @escaping @Sendable (RPCMessageStream<[UInt8]>, RPCMessageWriter<[UInt8]>, ServerContext) async throws -> Void) {
        let context = self.context
        let requests = RPCMessageStream<[UInt8]> { [self] in try await self.nextMessage() }
        let responses = RPCMessageWriter<[UInt8]> { [self] in try await self.write($0) }
        // A strong capture (a weak one would give this object a side table, slowing every
        // retain and release of it); the session clears it when the stream closes.
        onOutboundDrained = { [self] in resumeWriter() }
        task = Task(executorPreference: handlerExecutor) { [self] in
            let error: (any Error)?
            do {
                try await handler(requests, responses, context)
                error = nil
            } catch let thrown {
                error = thrown
            }
            onLoop { self.finish(error.map { RPCError(mapping: $0) }) }
        }
    }

    @inline(__always)
    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    private func completeUnary(_ result: Result<[UInt8], any Error>) {
        guard !finished else { return }
        switch result {
        case .success(let response):
            guard response.count <= router.configuration.maxSendMessageSize else {
                finish(RPCError(.resourceExhausted, "response message of \(response.count) bytes exceeds the limit"))
                return
            }
            sendHeadersIfNeeded()
            writeData { GRPCMessageFramer.append(response, to: &$0) }
            finish(nil)
        case .failure(let error):
            finish(RPCError(mapping: error))
        }
    }

    // MARK: request stream

    private func deliver(_ message: [UInt8]) {
        if entry.isUnary {
            unaryCount += 1
            if unaryCount == 1 { unaryRequest = message }
            return
        }
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.resume(returning: message)
        } else {
            messages.append(message)
        }
    }

    private func nextMessage() async throws -> [UInt8]? {
        if !loop.inEventLoop {
            return try await withTaskExecutorPreference(loop) { try await self.nextMessage() }
        }
        if messagesHead < messages.count {
            let message = messages[messagesHead]
            messagesHead += 1
            if messagesHead == messages.count {
                messages.removeAll(keepingCapacity: true)
                messagesHead = 0
                if pendingConsume > 0 {
                    consume(pendingConsume)
                    pendingConsume = 0
                }
            }
            return message
        }
        if requestEnded { return nil }
        if finished || Task.isCancelled { throw CancellationError() }
        return try await withUnsafeThrowingContinuation { readWaiter = $0 }
    }

    // MARK: response stream

    private func write(_ message: [UInt8]) async throws {
        if !loop.inEventLoop {
            return try await withTaskExecutorPreference(loop) { try await self.write(message) }
        }
        if finished || Task.isCancelled { throw CancellationError() }
        guard message.count <= router.configuration.maxSendMessageSize else {
            throw RPCError(.resourceExhausted, "response message of \(message.count) bytes exceeds the limit")
        }
        sendHeadersIfNeeded()
        writeData { GRPCMessageFramer.append(message, to: &$0) }
        if bufferedOutboundBytes > Self.writeHighWater {
            try await withUnsafeThrowingContinuation { writeWaiter = $0 }
        }
    }

    private func resumeWriter() {
        if let waiter = writeWaiter {
            writeWaiter = nil
            waiter.resume()
        }
    }

    private func sendHeadersIfNeeded() {
        guard !headersSent else { return }
        headersSent = true
        let metadata = context.responseHeaders
        if metadata.isEmpty {
            sendResponseHead(Self.responseHead)
            return
        }
        var headers = Self.responseHead
        for field in metadata.headerFields { headers.add(field.name, field.value) }
        sendResponseHead(headers)
    }

    // MARK: the end

    /// Ends the call once: status out (unless the stream is already gone), handler cancelled,
    /// waiters woken, metrics and the access log written.
    func finish(_ error: RPCError?, sendStatus: Bool = true) {
        guard !finished else { return }
        finished = true
        if let deadlineTimer { loop.cancelTimer(deadlineTimer) }
        deadlineTimer = nil
        let status = error ?? RPCError(.ok, "")
        if sendStatus {
            if headersSent {
                let metadata = context.responseTrailers
                if status.code == .ok && metadata.isEmpty {
                    finish(trailers: Self.okTrailers)
                } else {
                    var trailers = HTTP2HeaderBlock()
                    Self.addStatus(status, to: &trailers)
                    for field in metadata.headerFields { trailers.add(field.name, field.value) }
                    finish(trailers: trailers)
                }
            } else {
                Self.sendTrailersOnly(self, status, extra: context.responseHeaders, context.responseTrailers)
            }
        }
        if error != nil {
            task?.cancel()
            worker?.cancel(self)
        }
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.resume(throwing: error?.code == .cancelled ? CancellationError() as any Error : status)
        }
        if let waiter = writeWaiter {
            writeWaiter = nil
            waiter.resume(throwing: CancellationError())
        }
        if pendingConsume > 0 {
            consume(pendingConsume)
            pendingConsume = 0
        }
        let now = MonotonicTime.now()
        let elapsed = now > startedNanoseconds ? now - startedNanoseconds : 0
        entry.record(code: status.code, nanoseconds: elapsed)
        // The metadata is built only when the line will be written (info enabled).
        if router.configuration.accessLog, router.logger.logLevel <= .info {
            var metadata: Logger.Metadata = [
                "rpc.method": "\(entry.path)", "rpc.code": "\(status.code)",
                "rpc.duration_ms": "\(Double(elapsed) / 1e6)", "peer": "\(peer)",
            ]
            if let requestID = context.metadata["x-request-id"] { metadata["request.id"] = "\(requestID)" }
            if let cause = status.cause { metadata["error"] = "\(cause)" }
            router.logger.info("rpc", metadata: metadata)
        }
    }

    /// Shared constant blocks for the common case (no custom metadata): no per-call building.
    static let responseHead = HTTP2HeaderBlock.constant([(":status", "200"), ("content-type", "application/grpc")])
    static let okTrailers = HTTP2HeaderBlock.constant([("grpc-status", "0")])

    static func addStatus(_ status: RPCError, to block: inout HTTP2HeaderBlock) {
        if status.code == .ok {
            block.add("grpc-status", "0")
        } else {
            block.add("grpc-status", statusText(status.code))
            if !status.message.isEmpty { block.add("grpc-message", GRPCStatusMessage.encode(status.message)) }
            for field in status.metadata.headerFields { block.add(field.name, field.value) }
        }
    }

    private static func statusText(_ code: RPCCode) -> StaticString {
        switch code.rawValue {
        case 1: "1"
        case 2: "2"
        case 3: "3"
        case 4: "4"
        case 5: "5"
        case 6: "6"
        case 7: "7"
        case 8: "8"
        case 9: "9"
        case 10: "10"
        case 11: "11"
        case 12: "12"
        case 13: "13"
        case 14: "14"
        case 15: "15"
        case 16: "16"
        default: "2"  // not a gRPC code: UNKNOWN
        }
    }

    /// HEADERS with END_STREAM carrying the status (gRPC Trailers-Only).
    static func sendTrailersOnly(_ stream: HTTP2ServerStream, _ status: RPCError, extra: Metadata...) {
        var block = HTTP2HeaderBlock()
        block.add(":status", "200")
        block.add("content-type", "application/grpc")
        addStatus(status, to: &block)
        for metadata in extra {
            for field in metadata.headerFields { block.add(field.name, field.value) }
        }
        stream.sendHeadersOnly(block)
    }
}
