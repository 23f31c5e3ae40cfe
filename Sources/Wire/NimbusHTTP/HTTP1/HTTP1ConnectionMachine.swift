/// The protocol logic of one HTTP/1.1 server connection, without sockets or tasks: request
/// head → body (streamed to the handler) → response → keep-alive or close. One request at a
/// time; pipelined requests wait in the parser. `HTTP1ServerConnection` feeds it events and
/// does what the returned actions say.
struct HTTP1ConnectionMachine: Sendable {
    enum Phase: Sendable, Equatable {
        /// Parsing the next request head.
        case awaitingHead
        /// A handler runs; its body may still be arriving, its response may be going out.
        case active(Request)
        /// The response is out; the rest of the request body is read and dropped.
        case discardingBody(left: Int)
        /// No more requests: close once the output is written.
        case closing
    }

    struct Request: Sendable, Equatable {
        var clientKeepAlive: Bool
        var isHTTP10: Bool
        var isHead: Bool
        var expectsContinue: Bool
        var bodyComplete: Bool
        /// Body bytes still to come when Content-Length is known; nil when chunked.
        var bodyRemaining: Int?
        var continueSent = false
        var headSent = false
        /// Decided when the response head goes out.
        var keepAlive = false
    }

    /// How a response body is framed on the wire.
    enum Framing: Sendable, Equatable {
        case none
        case length(Int)
        case chunked
        /// HTTP/1.0 client, unknown length: the body ends when the connection closes.
        case untilClose
    }

    enum Next: Sendable, Equatable {
        case readNextRequest
        case discardBody
        case close
    }

    /// Bytes of unread request body worth reading and dropping to keep the connection (beyond
    /// that, closing is cheaper).
    static let discardLimit = 1 << 20

    private(set) var phase = Phase.awaitingHead
    private(set) var shuttingDown = false

    var isAwaitingHead: Bool { phase == .awaitingHead }
    var isClosing: Bool { phase == .closing }

    /// Whether the parser's body events are wanted now (for the handler, or to discard).
    var wantsBodyEvents: Bool {
        switch phase {
        case .active(let request): !request.bodyComplete
        case .discardingBody: true
        default: false
        }
    }

    var isDiscarding: Bool {
        if case .discardingBody = phase { return true }
        return false
    }

    /// Whether the response head went out for the request in flight.
    var responseStarted: Bool {
        if case .active(let request) = phase { return request.headSent }
        return false
    }

    /// A head arrived: start the handler.
    mutating func receivedHead(_ head: HTTPRequestHead, expectedLength: Int?) {
        precondition(phase == .awaitingHead, "head while \(phase)")
        phase = .active(Request(
            clientKeepAlive: head.keepAlive, isHTTP10: head.version == .http1_0, isHead: head.method == "HEAD",
            expectsContinue: head.expectsContinue && expectedLength != 0, bodyComplete: expectedLength == 0,
            bodyRemaining: expectedLength))
    }

    mutating func receivedBody(_ count: Int) {
        switch phase {
        case .active(var request):
            if let remaining = request.bodyRemaining { request.bodyRemaining = remaining - count }
            phase = .active(request)
        case .discardingBody(let left):
            phase = .discardingBody(left: left - count)
        default: break
        }
    }

    /// The request body ended. Returns `.readNextRequest` when that finishes a discard.
    mutating func receivedBodyEnd() -> Next? {
        switch phase {
        case .active(var request):
            request.bodyComplete = true
            request.bodyRemaining = 0
            phase = .active(request)
            return nil
        case .discardingBody:
            phase = shuttingDown ? .closing : .awaitingHead
            return shuttingDown ? .close : .readNextRequest
        default:
            return nil
        }
    }

    /// Whether a discard ran past its budget (then: close).
    var discardExhausted: Bool {
        if case .discardingBody(let left) = phase { return left < 0 }
        return false
    }

    /// The handler asked for the body: true when `100 Continue` must go out now.
    mutating func bodyDemanded() -> Bool {
        guard case .active(var request) = phase, request.expectsContinue, !request.continueSent, !request.bodyComplete,
              !request.headSent else {
            return false
        }
        request.continueSent = true
        phase = .active(request)
        return true
    }

    /// The response head is about to go out: decides keep-alive and framing. `length`: the
    /// body length when known (bytes, or a stream with a length); nil for an unknown length.
    mutating func responseHead(status: Int, length: Int?, handlerAskedToClose: Bool) -> (framing: Framing, keepAlive: Bool) {
        guard case .active(var request) = phase else { return (.none, false) }
        let noBody = status == 204 || status == 304 || (100..<200).contains(status)
        let framing: Framing
        if noBody {
            framing = .none
        } else if let length {
            framing = .length(length)
        } else {
            framing = request.isHTTP10 ? .untilClose : .chunked
        }
        // A client waiting for 100-continue that never got it may or may not send the body:
        // only closing leaves no doubt about where the next request starts.
        let bodyInDoubt = request.expectsContinue && !request.continueSent && !request.bodyComplete
        request.keepAlive = request.clientKeepAlive && !shuttingDown && !handlerAskedToClose
            && framing != .untilClose && !bodyInDoubt
        request.headSent = true
        phase = .active(request)
        return (framing, request.keepAlive)
    }

    /// The response is completely written (or failed: `failed` closes).
    mutating func responseEnded(failed: Bool = false) -> Next {
        guard case .active(let request) = phase else { return .close }
        if failed || !request.keepAlive || shuttingDown {
            phase = .closing
            return .close
        }
        if request.bodyComplete {
            phase = .awaitingHead
            return .readNextRequest
        }
        if let remaining = request.bodyRemaining, remaining > Self.discardLimit {
            phase = .closing
            return .close
        }
        phase = .discardingBody(left: request.bodyRemaining ?? Self.discardLimit)
        return .discardBody
    }

    /// Malformed input or a broken connection.
    mutating func failed() {
        phase = .closing
    }

    /// Graceful shutdown: true when the connection can close now (nothing in flight).
    mutating func beginShutdown() -> Bool {
        shuttingDown = true
        if phase == .awaitingHead {
            phase = .closing
            return true
        }
        return false
    }
}
