/// The protocol half of a server connection (HTTP/2 or HTTP/1.1): bytes in, bytes out.
/// `ServerConnection` owns the socket, TLS and write coalescing; a codec owns the protocol.
protocol ConnectionCodec: AnyObject {
    func receive(_ bytes: UnsafeRawBufferPointer) throws
    /// False while the codec holds enough unread input (backpressure): the connection stops
    /// reading until told by `ServerConnection.readInterestChanged()`.
    var wantsRead: Bool { get }
    /// Appends pending output to `buffer` (bounded; called again while `hasMoreOutput`).
    func produceOutput(into buffer: inout OutboundBuffer) throws
    var hasMoreOutput: Bool { get }
    /// Nothing left to read or write: close once the outbound buffer is empty.
    var wantsClose: Bool { get }
    /// No request in flight.
    var isIdle: Bool { get }
    func beginGracefulShutdown()
    /// The connection is gone: cancel whatever is in flight.
    func connectionClosed()
}

extension ConnectionCodec {
    var wantsRead: Bool { true }
}
