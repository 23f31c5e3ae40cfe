import Logging
import NimbusHTTP
import NimbusRPCCore

/// One server-side RPC: deframes requests, runs the handler as a task pinned to the
/// connection's loop (so the handler never changes thread and needs no lock here), and
/// sends headers, messages and the status. Every path ends in `finish` exactly once.
///
/// @unchecked Sendable: all state is touched on `loop` only. The handler task prefers the
/// loop as executor; reads and writes called from elsewhere hop back first.
final class GRPCServerCall: HTTP2StreamHandler, @unchecked Sendable {
    let stream: HTTP2ServerStream
    let method: ServerMethod
    let router: GRPCRouter
    let context: ServerContext
    let loop: EventLoop
    private let started: ContinuousClock.Instant
    private var deframer: GRPCMessageDeframer
    private var messages: [[UInt8]] = []
    private var messagesHead = 0
    private var requestEnded = false
    private var pendingConsume = 0
    private var readWaiter: CheckedContinuation<[UInt8]?, any Error>?
    private var writeWaiter: CheckedContinuation<Void, any Error>?
    private var task: Task<Void, Never>?
    private var deadlineTimer: EventLoopTimer?
    private var headersSent = false
    private(set) var finished = false

    /// Buffered response bytes above which a streaming writer waits for the peer.
    private static let writeHighWater = 256 << 10

    init(stream: HTTP2ServerStream, head: HTTP2RequestHead, method: ServerMethod, router: GRPCRouter) {
        self.stream = stream
        self.method = method
        self.router = router
        self.loop = stream.loop
        self.deframer = GRPCMessageDeframer(maxMessageSize: router.configuration.maxReceiveMessageSize)
        var metadata = Metadata()
        var timeout: Duration?
        for (name, value) in head.fields {
            if name == "grpc-timeout" {
                timeout = GRPCTimeout.parse(value)
            } else {
                metadata.addReceivedHeader(name: name, value: value)
            }
        }
        let now = ContinuousClock.now
        self.started = now
        self.context = ServerContext(
            method: method.descriptor, metadata: metadata, deadline: timeout.map { now + $0 }, peer: stream.peer)
        self.timeout = timeout
    }

    private let timeout: Duration?

    /// Arms the deadline and, for streaming methods, starts the handler at once.
    func start() {
        if let timeout {
            deadlineTimer = loop.scheduleTimer(after: timeout) { [unowned self] in
                self.deadlineTimer = nil
                self.finish(RPCError(.deadlineExceeded, "deadline exceeded"))
            }
        }
        if case .streaming(let handler) = method.handler { startStreaming(handler) }
    }

    // MARK: HTTP2StreamHandler

    func streamReceivedData(_ bytes: UnsafeRawBufferPointer) {
        if finished {
            stream.consume(bytes.count)
            return
        }
        deframer.append(bytes)
        let backlog = messages.count - messagesHead
        do {
            while let message = try deframer.next() { deliver(message) }
        } catch {
            stream.consume(bytes.count)
            switch error.kind {
            case .messageTooLarge: finish(RPCError(.resourceExhausted, "\(error)"))
            case .compressedMessage: finish(RPCError(.internal, "\(error)"))
            default: finish(RPCError(.internal, "\(error)"))
            }
            return
        }
        // Flow control: what the handler has not caught up with stays charged to the window.
        if backlog == 0 || isUnary {
            stream.consume(bytes.count)
        } else {
            pendingConsume += bytes.count
        }
    }

    func streamReceivedEnd() {
        requestEnded = true
        if finished { return }
        do {
            try deframer.finish()
        } catch {
            finish(RPCError(.internal, "\(error)"))
            return
        }
        switch method.handler {
        case .unary(let handler):
            let count = messages.count - messagesHead
            guard count == 1 else {
                finish(RPCError(count == 0 ? .internal : .unimplemented,
                                count == 0 ? "unary call ended without a request message" : "unary call received \(count) request messages"))
                return
            }
            startUnary(handler, request: messages[messagesHead])
            messages.removeAll()
            messagesHead = 0
        case .streaming:
            if let waiter = readWaiter, messagesHead == messages.count {
                readWaiter = nil
                waiter.resume(returning: nil)
            }
        }
    }

    func streamClosed(errorCode: UInt32) {
        // Closed before we sent the status: the client cancelled (RST_STREAM) or the
        // connection died. Either way the handler is cancelled.
        if !finished {
            finish(RPCError(.cancelled, "the client cancelled the call"), sendStatus: false)
        }
        task = nil
        stream.onOutboundDrained = nil
    }

    private var isUnary: Bool {
        if case .unary = method.handler { return true }
        return false
    }

    // MARK: running the handler

    private func startUnary(_ handler: @escaping @Sendable ([UInt8], ServerContext) async throws -> [UInt8], request: [UInt8]) {
        let context = self.context
        task = Task(executorPreference: loop) { [self] in
            let result: Result<[UInt8], any Error>
            do {
                result = .success(try await handler(request, context))
            } catch {
                result = .failure(error)
            }
            onLoop { self.completeUnary(result) }
        }
    }

    private func startStreaming(_ handler: @escaping @Sendable (RPCMessageStream<[UInt8]>, RPCMessageWriter<[UInt8]>, ServerContext) async throws -> Void) {
        let context = self.context
        let requests = RPCMessageStream<[UInt8]> { [self] in try await self.nextMessage() }
        let responses = RPCMessageWriter<[UInt8]> { [self] in try await self.write($0) }
        stream.onOutboundDrained = { [unowned self] in self.resumeWriter() }
        task = Task(executorPreference: loop) { [self] in
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
            stream.writeData { GRPCMessageFramer.append(response, to: &$0) }
            finish(nil)
        case .failure(let error):
            finish(RPCError(mapping: error))
        }
    }

    // MARK: request stream

    private func deliver(_ message: [UInt8]) {
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
                    stream.consume(pendingConsume)
                    pendingConsume = 0
                }
            }
            return message
        }
        if requestEnded { return nil }
        if finished || Task.isCancelled { throw CancellationError() }
        return try await withCheckedThrowingContinuation { readWaiter = $0 }
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
        stream.writeData { GRPCMessageFramer.append(message, to: &$0) }
        if stream.bufferedOutboundBytes > Self.writeHighWater {
            try await withCheckedThrowingContinuation { writeWaiter = $0 }
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
        var headers = HTTP2HeaderBlock()
        headers.add(":status", "200")
        headers.add("content-type", "application/grpc")
        for field in context.responseHeaders.headerFields { headers.add(field.name, field.value) }
        stream.sendResponseHead(headers)
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
                var trailers = HTTP2HeaderBlock()
                Self.addStatus(status, to: &trailers)
                for field in context.responseTrailers.headerFields { trailers.add(field.name, field.value) }
                stream.finish(trailers: trailers)
            } else {
                Self.sendTrailersOnly(stream, status, extra: context.responseHeaders, context.responseTrailers)
            }
        }
        if error != nil { task?.cancel() }
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.resume(throwing: error?.code == .cancelled ? CancellationError() as any Error : status)
        }
        if let waiter = writeWaiter {
            writeWaiter = nil
            waiter.resume(throwing: CancellationError())
        }
        if pendingConsume > 0 {
            stream.consume(pendingConsume)
            pendingConsume = 0
        }
        let elapsed = ContinuousClock.now - started
        router.metrics.record(method.descriptor, code: status.code, nanoseconds: elapsed.nanosecondsClamped)
        if router.configuration.accessLog {
            var metadata: Logger.Metadata = [
                "rpc.method": "\(method.descriptor.path)", "rpc.code": "\(status.code)",
                "rpc.duration_ms": "\(Double(elapsed.nanosecondsClamped) / 1e6)", "peer": "\(stream.peer)",
            ]
            if let requestID = context.metadata["x-request-id"] { metadata["request.id"] = "\(requestID)" }
            if let cause = status.cause { metadata["error"] = "\(cause)" }
            router.logger.info("rpc", metadata: metadata)
        }
    }

    static func addStatus(_ status: RPCError, to block: inout HTTP2HeaderBlock) {
        if status.code == .ok {
            block.add("grpc-status", "0")
        } else {
            block.add("grpc-status", "\(status.code.rawValue)")
            if !status.message.isEmpty { block.add("grpc-message", GRPCStatusMessage.encode(status.message)) }
            for field in status.metadata.headerFields { block.add(field.name, field.value) }
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

extension Duration {
    var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }
}
