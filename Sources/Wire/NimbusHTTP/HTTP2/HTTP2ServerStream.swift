import CNGHTTP2
import NimbusEventLoop

/// A request as its HEADERS frame announced it.
public struct HTTP2RequestHead: Sendable {
    public var method: String = ""
    public var path: String = ""
    public var scheme: String = ""
    public var authority: String = ""
    /// Regular (non-pseudo) header fields in arrival order, names lowercase.
    public var fields: [(name: String, value: String)] = []
    /// The router's `tag(headerName:)` of each field, in the same order: computed once per
    /// distinct field and remembered with the connection's recent fields.
    public var fieldTags: [UInt8] = []

    public init() {}

    public func first(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }
}

/// Routes new request streams; shared by every connection on every loop. The router makes
/// the stream object itself — a subclass of `HTTP2ServerStream` that handles the request (a
/// gRPC call, a plain HTTP request) or the base class, which discards what the peer sends
/// (after an immediate answer such as a 415) — so a request costs one object, not a stream
/// plus a handler.
public protocol HTTP2RequestRouter: Sendable {
    /// `head` is the session's request-head buffer lent in place (passing a copy retained and
    /// released each of its Strings): read it, copy what must outlive the call, change nothing.
    func openStream(_ opening: HTTP2StreamOpening, head: inout HTTP2RequestHead) -> HTTP2ServerStream
    /// A small classification of a request header name for the router's own use
    /// (`HTTP2RequestHead.fieldTags`), asked once per distinct field of a connection.
    func tag(headerName: String) -> UInt8
}

extension HTTP2RequestRouter {
    public func tag(headerName: String) -> UInt8 { 0 }
}

/// What a new stream is made from (passed through the router to `HTTP2ServerStream.init`).
public struct HTTP2StreamOpening {
    let id: Int32
    let session: HTTP2ServerSession
    public let loop: EventLoop
    public let peer: String
    public let peerCertificateSubject: String?
}

/// One request/response stream of a server connection, and the base class of what handles
/// it: override the `stream…` hooks. Loop-confined: use it only on `loop` (hop with
/// `loop.execute` from elsewhere); every hook is called on the loop thread.
open class HTTP2ServerStream {
    public final let id: Int32
    public final let loop: EventLoop
    /// The remote address, e.g. `127.0.0.1:53412`.
    public final let peer: String
    /// The verified client certificate's subject with mTLS.
    public final let peerCertificateSubject: String?
    // Strong (was `unowned(unsafe)`): a handler task may hold its stream past the connection's
    // end (RST_STREAM, GOAWAY, peer reset), and every method below checks `isClosed` first
    // anyway; a strong link costs one retain per stream and makes a late call harmless instead
    // of a use-after-free. The session drops its streams when they or the connection close.
    final let session: HTTP2ServerSession

    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    @exclusivity(unchecked) public final internal(set) var isClosed = false
    /// The peer sent END_STREAM.
    @exclusivity(unchecked) public final internal(set) var receivedEnd = false
    /// Bytes delivered to the handler and not yet consumed (returned to the window).
    @exclusivity(unchecked) final var unconsumed = 0
    /// Index in the session's open streams; -1 before registration and once closed.
    @exclusivity(unchecked) final var slot = -1
    /// content-length as the request declared it (-1: none), and the body bytes received.
    @exclusivity(unchecked) final var declaredContentLength = -1
    @exclusivity(unchecked) final var receivedBodyBytes = 0
    /// Reset for breaking the request rules (`HTTP2RequestRules`): no more data or end reaches the hooks.
    @exclusivity(unchecked) final var refusedByRules = false

    // Outbound state, read by the nghttp2 data provider.
    @exclusivity(unchecked) final var outbound: [UInt8] = []
    @exclusivity(unchecked) final var outboundOffset = 0
    @exclusivity(unchecked) final var responseStarted = false
    @exclusivity(unchecked) final var pendingTrailers: HTTP2HeaderBlock?
    @exclusivity(unchecked) final var endAfterData = false
    @exclusivity(unchecked) final var dataDeferred = false
    /// Called when buffered response data fell to zero (writers waiting on backpressure).
    @exclusivity(unchecked) public final var onOutboundDrained: (() -> Void)?

    public init(opening: HTTP2StreamOpening) {
        self.id = opening.id
        self.session = opening.session
        self.loop = opening.loop
        self.peer = opening.peer
        self.peerCertificateSubject = opening.peerCertificateSubject
    }

    // MARK: hooks

    /// Request body bytes. Flow control is manual: call `consume(_:)` once the application has
    /// taken them, or the peer stops sending. The base class discards them.
    open func streamReceivedData(_ bytes: UnsafeRawBufferPointer) { consume(bytes.count) }
    /// The peer ended its side (END_STREAM).
    open func streamReceivedEnd() {}
    /// The stream is gone: `errorCode` 0 after a normal end, otherwise the RST_STREAM code
    /// (e.g. 8 = CANCEL when the client cancelled) or a connection failure.
    open func streamClosed(errorCode: UInt32) {}

    // MARK: responding

    /// Response bytes queued and not yet handed to nghttp2.
    public final var bufferedOutboundBytes: Int { outbound.count - outboundOffset }

    /// Sends the response HEADERS; body data and trailers follow with `writeData`/`finish`.
    public final func sendResponseHead(_ headers: HTTP2HeaderBlock) {
        guard !isClosed, !responseStarted else { return }
        responseStarted = true
        session.submitResponse(self, headers: headers, withBody: true)
    }

    /// A response without body: HEADERS with END_STREAM (gRPC Trailers-Only, or a plain 415).
    public final func sendHeadersOnly(_ headers: HTTP2HeaderBlock) {
        guard !isClosed, !responseStarted else { return }
        responseStarted = true
        endAfterData = true
        session.submitResponse(self, headers: headers, withBody: false)
    }

    /// Appends body bytes (after `sendResponseHead`).
    public final func writeData(_ fill: (inout [UInt8]) -> Void) {
        guard !isClosed else { return }
        if outbound.capacity == 0 { outbound = session.takeOutboundBuffer() }
        if outboundOffset > 0 && outboundOffset == outbound.count {
            outbound.removeAll(keepingCapacity: true)
            outboundOffset = 0
        }
        fill(&outbound)
        session.resumeIfDeferred(self)
    }

    /// Ends the response with trailers once queued data has gone out.
    public final func finish(trailers: HTTP2HeaderBlock) {
        guard !isClosed, pendingTrailers == nil, !endAfterData else { return }
        pendingTrailers = trailers
        session.resumeIfDeferred(self)
    }

    /// Ends the response without trailers once queued data has gone out (plain HTTP/2).
    public final func finish() {
        guard !isClosed, pendingTrailers == nil, !endAfterData else { return }
        endAfterData = true
        session.resumeIfDeferred(self)
    }

    /// Returns `count` received bytes to the flow-control windows (stream and connection).
    public final func consume(_ count: Int) {
        guard count > 0, !isClosed else { return }
        let n = min(count, unconsumed)
        unconsumed -= n
        session.consume(self, n)
    }

    /// RST_STREAM with `errorCode` (0 NO_ERROR, 8 CANCEL, 2 INTERNAL_ERROR …).
    public final func reset(errorCode: UInt32) {
        guard !isClosed else { return }
        session.reset(self, errorCode: errorCode)
    }
}
