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
        // By length first: at most two candidates are compared.
        switch name.utf8.count {
        case 2: return name == "te"
        case 4: return name == "host"
        case 10: return name == "connection"
        case 11: return name == "grpc-status"
        case 12: return name == "content-type" || name == "grpc-timeout" || name == "grpc-message"
        case 13: return name == "grpc-encoding"
        case 14: return name == "content-length"
        case 17: return name == "transfer-encoding" || name == "grpc-message-type"
        case 20: return name == "grpc-accept-encoding"
        case 23: return name == "grpc-status-details-bin"
        default: return false
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

    /// `addReceivedHeader` for an HTTP/2 field the caller has checked not to be reserved
    /// (nghttp2 has checked the name to be lowercase).
    mutating func addUnreservedHTTP2Header(name: String, value: String) {
        if Self.isBinaryKey(name) {
            guard let bytes = GRPCBase64.decode(value) else { return }
            appendLowercaseKey(name, value: .binary(bytes))
        } else {
            appendLowercaseKey(name, value: .string(value))
        }
    }

    /// Ends in `-bin`, checked on the UTF-8 bytes (no generic `last`/`hasSuffix` walk).
    @inline(__always)
    static func isBinaryKey(_ name: String) -> Bool {
        name.utf8.withContiguousStorageIfAvailable { bytes in
            let n = bytes.count
            return n >= 4 && bytes[n - 1] == UInt8(ascii: "n") && bytes[n - 2] == UInt8(ascii: "i")
                && bytes[n - 3] == UInt8(ascii: "b") && bytes[n - 4] == UInt8(ascii: "-")
        } ?? name.hasSuffix("-bin")
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
