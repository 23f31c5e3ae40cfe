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

    public init() {}

    public func first(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }
}

/// What the application does with one HTTP/2 request stream. All calls arrive on the
/// connection's loop thread.
public protocol HTTP2StreamHandler: AnyObject {
    /// Request body bytes. Flow control is manual: call `stream.consume(_:)` once the
    /// application has taken them, or the peer stops sending.
    func streamReceivedData(_ bytes: UnsafeRawBufferPointer)
    /// The peer ended its side (END_STREAM).
    func streamReceivedEnd()
    /// The stream is gone: `errorCode` 0 after a normal end, otherwise the RST_STREAM code
    /// (e.g. 8 = CANCEL when the client cancelled) or a connection failure.
    func streamClosed(errorCode: UInt32)
}

/// Routes new request streams to handlers; shared by every connection on every loop.
public protocol HTTP2RequestRouter: Sendable {
    func openStream(_ stream: HTTP2ServerStream, head: HTTP2RequestHead) -> any HTTP2StreamHandler
}

/// One request/response stream of a server connection. Loop-confined: use it only on
/// `loop` (hop with `loop.execute` from elsewhere).
public final class HTTP2ServerStream {
    public let id: Int32
    public let loop: EventLoop
    /// The remote address, e.g. `127.0.0.1:53412`.
    public let peer: String
    /// The verified client certificate's subject with mTLS.
    public let peerCertificateSubject: String?
    // Strong (was `unowned(unsafe)`): a handler may hold its stream past the connection's
    // end (RST_STREAM, GOAWAY, peer reset), and every method below checks `isClosed` first
    // anyway; a strong link costs one retain per stream and makes a late call harmless instead
    // of a use-after-free. The session drops its streams when they or the connection close.
    let session: HTTP2ServerSession

    // Loop-confined state: runtime exclusivity checks are off for it (they cost ~4% of a call).
    @exclusivity(unchecked) var handler: (any HTTP2StreamHandler)?
    @exclusivity(unchecked) public internal(set) var isClosed = false
    /// The peer sent END_STREAM.
    @exclusivity(unchecked) public internal(set) var receivedEnd = false
    /// Bytes delivered to the handler and not yet consumed (returned to the window).
    @exclusivity(unchecked) var unconsumed = 0
    /// Index in the session's open streams; -1 once closed.
    @exclusivity(unchecked) var slot = -1

    // Outbound state, read by the nghttp2 data provider.
    @exclusivity(unchecked) var outbound: [UInt8] = []
    @exclusivity(unchecked) var outboundOffset = 0
    @exclusivity(unchecked) var responseStarted = false
    @exclusivity(unchecked) var pendingTrailers: HTTP2HeaderBlock?
    @exclusivity(unchecked) var endAfterData = false
    @exclusivity(unchecked) var dataDeferred = false
    /// Called when buffered response data fell to zero (writers waiting on backpressure).
    @exclusivity(unchecked) public var onOutboundDrained: (() -> Void)?

    init(id: Int32, session: HTTP2ServerSession, loop: EventLoop, peer: String, peerCertificateSubject: String?) {
        self.id = id
        self.session = session
        self.loop = loop
        self.peer = peer
        self.peerCertificateSubject = peerCertificateSubject
    }

    /// Response bytes queued and not yet handed to nghttp2.
    public var bufferedOutboundBytes: Int { outbound.count - outboundOffset }

    /// Sends the response HEADERS; body data and trailers follow with `writeData`/`finish`.
    public func sendResponseHead(_ headers: HTTP2HeaderBlock) {
        guard !isClosed, !responseStarted else { return }
        responseStarted = true
        session.submitResponse(self, headers: headers, withBody: true)
    }

    /// A response without body: HEADERS with END_STREAM (gRPC Trailers-Only, or a plain 415).
    public func sendHeadersOnly(_ headers: HTTP2HeaderBlock) {
        guard !isClosed, !responseStarted else { return }
        responseStarted = true
        endAfterData = true
        session.submitResponse(self, headers: headers, withBody: false)
    }

    /// Appends body bytes (after `sendResponseHead`).
    public func writeData(_ fill: (inout [UInt8]) -> Void) {
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
    public func finish(trailers: HTTP2HeaderBlock) {
        guard !isClosed, pendingTrailers == nil, !endAfterData else { return }
        pendingTrailers = trailers
        session.resumeIfDeferred(self)
    }

    /// Ends the response without trailers once queued data has gone out (plain HTTP/2).
    public func finish() {
        guard !isClosed, pendingTrailers == nil, !endAfterData else { return }
        endAfterData = true
        session.resumeIfDeferred(self)
    }

    /// Returns `count` received bytes to the flow-control windows (stream and connection).
    public func consume(_ count: Int) {
        guard count > 0, !isClosed else { return }
        let n = min(count, unconsumed)
        unconsumed -= n
        session.consume(self, n)
    }

    /// RST_STREAM with `errorCode` (0 NO_ERROR, 8 CANCEL, 2 INTERNAL_ERROR …).
    public func reset(errorCode: UInt32) {
        guard !isClosed else { return }
        session.reset(self, errorCode: errorCode)
    }
}
