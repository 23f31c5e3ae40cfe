import NimbusHTTP
import NimbusRPCCore

/// How a call ended, as the server (or the transport on its behalf) said it.
struct ClientCallStatus: Sendable {
    var code: RPCCode
    var message: String
    var trailers: Metadata
    /// The server never processed the call (refused stream, GOAWAY before it, connection never
    /// carried it): the channel may retry it on another connection or endpoint.
    var retryable = false

    var error: RPCError? {
        code == .ok ? nil : RPCError(code, message, metadata: trailers)
    }
}

/// The response side of one client call: response headers → messages → trailers → status.
/// Value type, no I/O: the connection feeds it HTTP/2 events and performs the returned action.
struct ClientCallStateMachine {
    enum State {
        case awaitingHeaders
        case receivingMessages
        case finished
    }

    enum Action: Equatable {
        case none
        case deliver([[UInt8]])
        /// The call is over. `resetStream`: the peer still thinks the stream is open — send RST_STREAM(CANCEL).
        case finish(code: RPCCode, message: String, trailers: Metadata, retryable: Bool, resetStream: Bool)
    }

    private(set) var state = State.awaitingHeaders
    private(set) var initialMetadata = Metadata()
    private var deframer: GRPCMessageDeframer

    init(maxMessageSize: Int) {
        deframer = GRPCMessageDeframer(maxMessageSize: maxMessageSize)
    }

    var isFinished: Bool { state == .finished }

    mutating func receiveHeaders(_ fields: [HTTP2ClientHeader], endStream: Bool) -> Action {
        switch state {
        case .awaitingHeaders:
            let status = fields.first { $0.name == ":status" }?.value
            if status != "200" {
                // Not a gRPC answer (a proxy, a plain HTTP server): the HTTP status decides.
                let http = status.flatMap { Int($0) } ?? 0
                return finish(Self.code(forHTTPStatus: http), "unexpected HTTP status \(status ?? "(none)")",
                              trailers: ClientWireFormat.metadata(from: fields), resetStream: !endStream)
            }
            if endStream {
                // Trailers-Only: status and metadata in the one HEADERS frame.
                return finishWithTrailers(fields, resetStream: false)
            }
            let contentType = fields.first { $0.name == "content-type" }?.value ?? ""
            guard contentType.hasPrefix("application/grpc") else {
                return finish(.unknown, "unexpected content-type '\(contentType)'", trailers: [:], resetStream: true)
            }
            switch GRPCMessageEncoding.parse(fields.first { $0.name == "grpc-encoding" }?.value) {
            case .success(let encoding):
                deframer.decompression = encoding
            case .failure(let unsupported):
                return finish(.internal, "the server compressed with grpc-encoding \(unsupported.name.prefix(32)), which this client does not accept",
                              trailers: [:], resetStream: true)
            }
            initialMetadata = ClientWireFormat.metadata(from: fields)
            state = .receivingMessages
            return .none
        case .receivingMessages:
            guard endStream else {
                return finish(.internal, "a second HEADERS block without END_STREAM", trailers: [:], resetStream: true)
            }
            if deframer.hasPartialMessage {
                return finish(.internal, "the response ended inside a message", trailers: [:], resetStream: false)
            }
            return finishWithTrailers(fields, resetStream: false)
        case .finished:
            return .none
        }
    }

    mutating func receiveData(_ bytes: [UInt8]) -> Action {
        switch state {
        case .awaitingHeaders:
            return finish(.internal, "DATA before response headers", trailers: [:], resetStream: true)
        case .receivingMessages:
            var messages: [[UInt8]] = []
            // Whole messages are sliced straight from the chunk (no staging copy).
            let failure = bytes.withUnsafeBytes { raw -> GRPCFramingError? in
                do throws(GRPCFramingError) {
                    try deframer.process(raw) { messages.append($0) }
                    return nil
                } catch {
                    return error
                }
            }
            if let error = failure {
                switch error.kind {
                case .messageTooLarge(let size, let limit):
                    return finish(.resourceExhausted, "response message of \(size) bytes exceeds the limit of \(limit) bytes",
                                  trailers: [:], resetStream: true)
                default:
                    return finish(.internal, "bad response framing: \(error)", trailers: [:], resetStream: true)
                }
            }
            return messages.isEmpty ? .none : .deliver(messages)
        case .finished:
            return .none
        }
    }

    /// END_STREAM on a DATA frame: the server left out the trailers.
    mutating func receiveEndOfData() -> Action {
        guard state != .finished else { return .none }
        return finish(.internal, "the response ended without trailers (no grpc-status)", trailers: [:], resetStream: false)
    }

    /// The stream closed (RST_STREAM, GOAWAY, connection loss) before the call finished.
    mutating func streamClosed(_ errorCode: HTTP2ClientErrorCode, sentHeaders: Bool = true) -> Action {
        guard state != .finished else { return .none }
        state = .finished
        switch errorCode {
        case .refusedStream:
            return .finish(code: .unavailable, message: "the server refused the stream", trailers: [:], retryable: true, resetStream: false)
        case .cancel:
            return .finish(code: .cancelled, message: "the server cancelled the stream", trailers: [:], retryable: false, resetStream: false)
        case .enhanceYourCalm:
            return .finish(code: .resourceExhausted, message: "the server reset the stream: ENHANCE_YOUR_CALM",
                           trailers: [:], retryable: false, resetStream: false)
        case .noError:
            return .finish(code: .internal, message: "the stream closed before the call finished", trailers: [:],
                           retryable: false, resetStream: false)
        default:
            return .finish(code: .internal, message: "the server reset the stream: \(errorCode)", trailers: [:],
                           retryable: false, resetStream: false)
        }
    }

    /// The caller or the deadline ended the call.
    mutating func abandon(_ code: RPCCode, _ message: String) -> Action {
        guard state != .finished else { return .none }
        return finish(code, message, trailers: [:], resetStream: true)
    }

    private mutating func finishWithTrailers(_ fields: [HTTP2ClientHeader], resetStream: Bool) -> Action {
        let trailers = ClientWireFormat.metadata(from: fields)
        guard let raw = fields.first(where: { $0.name == "grpc-status" })?.value else {
            return finish(.unknown, "the response carried no grpc-status", trailers: trailers, resetStream: resetStream)
        }
        guard let value = Int(raw), value >= 0 else {
            return finish(.unknown, "malformed grpc-status '\(raw)'", trailers: trailers, resetStream: resetStream)
        }
        let message = fields.first { $0.name == "grpc-message" }.map { ClientWireFormat.percentDecode($0.value) } ?? ""
        return finish(RPCCode(rawValue: value), message, trailers: trailers, resetStream: resetStream)
    }

    private mutating func finish(_ code: RPCCode, _ message: String, trailers: Metadata, resetStream: Bool) -> Action {
        state = .finished
        return .finish(code: code, message: message, trailers: trailers, retryable: false, resetStream: resetStream)
    }

    /// gRPC's mapping for responses that are not HTTP 200 (doc/http-grpc-status-mapping.md).
    static func code(forHTTPStatus status: Int) -> RPCCode {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }
}
