import NimbusHTTP
import NimbusRPCCore

// The client's use of the shared gRPC wire primitives (Wire/: framer, deframer, grpc-timeout,
// grpc-message, -bin base64, metadata ↔ header mapping).
enum ClientWireFormat {
    /// One message with its 5-byte prefix (never compressed).
    static func frame(_ message: [UInt8]) -> [UInt8] { GRPCMessageFramer.frame(message) }

    /// `grpc-timeout` for the time left.
    static func timeoutHeader(_ duration: Duration) -> String { GRPCTimeout.format(duration) }

    static func percentDecode(_ text: String) -> String { GRPCStatusMessage.decode(text) }

    /// Custom metadata as request header fields (`-bin` values base64-encoded, reserved names skipped).
    static func headers(from metadata: Metadata) -> [(name: String, value: String)] { metadata.headerFields }

    static func isValidKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// Response header fields as metadata, leaving out pseudo-headers and reserved gRPC fields.
    /// nghttp2 refuses uppercase names, so the names go in as they are (no re-lowercasing).
    static func metadata(from fields: [HTTP2ClientHeader]) -> Metadata {
        var metadata = Metadata()
        for field in fields where !Metadata.isReserved(field.name) {
            metadata.addUnreservedHTTP2Header(name: field.name, value: field.value)
        }
        return metadata
    }

    static func metadata(from fields: [(name: String, value: String)]) -> Metadata {
        var metadata = Metadata()
        for (name, value) in fields { metadata.addReceivedHeader(name: name, value: value) }
        return metadata
    }
}
