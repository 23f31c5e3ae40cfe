import NimbusRPCCore

/// Mapping between gRPC custom metadata and HTTP/2 header fields.
extension Metadata {
    /// Header names the gRPC transport owns; never surfaced as custom metadata.
    static func isReserved(_ name: String) -> Bool {
        // Every reserved name starts with one of these bytes; most custom keys do not.
        switch name.utf8.first {
        case UInt8(ascii: ":"): return true
        case UInt8(ascii: "c"), UInt8(ascii: "t"), UInt8(ascii: "g"), UInt8(ascii: "h"): break
        default: return false
        }
        switch name {
        case "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
             "grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-message-type",
             "content-length", "connection", "host", "transfer-encoding":
            return true
        default:
            return false
        }
    }

    /// Adds one received header as metadata: `-bin` values are base64-decoded (padded or not);
    /// an undecodable `-bin` value is dropped. Returns false for reserved names.
    @discardableResult
    public mutating func addReceivedHeader(name: String, value: String) -> Bool {
        if Metadata.isReserved(name) { return false }
        if name.hasSuffix("-bin") {
            guard let bytes = GRPCBase64.decode(value) else { return false }
            add(name, binary: bytes)
        } else {
            add(name, value)
        }
        return true
    }

    /// `addReceivedHeader` for an HTTP/2 field, whose name nghttp2 has checked to be lowercase.
    @discardableResult
    mutating func addReceivedHTTP2Header(name: String, value: String) -> Bool {
        if Metadata.isReserved(name) { return false }
        if name.utf8.last == UInt8(ascii: "n") && name.hasSuffix("-bin") {
            guard let bytes = GRPCBase64.decode(value) else { return false }
            appendLowercaseKey(name, value: .binary(bytes))
        } else {
            appendLowercaseKey(name, value: .string(value))
        }
        return true
    }

    /// The metadata as header fields (`-bin` values base64, unpadded; reserved names skipped).
    public var headerFields: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(entries.count)
        for (key, value) in self where !Metadata.isReserved(key) {
            switch value {
            case .string(let text): fields.append((key, key.hasSuffix("-bin") ? GRPCBase64.encode(Array(text.utf8)) : text))
            case .binary(let bytes): fields.append((key, GRPCBase64.encode(bytes)))
            }
        }
        return fields
    }
}
