import NimbusRPCCore

/// The response side of a call made with `GRPCChannel.streamingWithMetadata`: the messages,
/// and the response headers' metadata for a proxy to pass on before the first message.
public struct ClientResponseStream: Sendable {
    let call: ClientCall

    /// The response messages; iteration ends after an OK status and throws the call's
    /// `RPCError` otherwise.
    public var messages: RPCMessageStream<[UInt8]> {
        let call = self.call
        return RPCMessageStream { try await call.nextMessage() }
    }

    /// The response headers' metadata, once the server sent them; empty when the call ended
    /// without any (a Trailers-Only answer or a failure: `messages` then tells the outcome).
    public func initialMetadata() async -> Metadata {
        await call.responseHeaders()
    }
}
