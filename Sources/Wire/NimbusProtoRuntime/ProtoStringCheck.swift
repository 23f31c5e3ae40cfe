import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// protobuf-c hands string fields to Swift as NUL-terminated C strings, so a string value
/// holding U+0000 would silently lose everything after it. Decoding refuses such a message
/// instead (proto3 allows U+0000 in strings; Nimbus does not store or forward it).
///
/// The check walks the wire format guided by the message descriptor, and only when the bytes
/// contain a zero byte at all: proto3 omits zero scalars, so most messages skip the walk after
/// one `memchr`.
enum ProtoStringCheck {
    /// Nested messages deeper than this are left to protobuf-c (which has its own limits).
    private static let maxDepth = 64

    /// The dotted path of the first string field whose value contains a NUL byte, e.g.
    /// `spec.name`; nil when there is none. Malformed bytes also give nil: protobuf-c reports them.
    static func fieldContainingNUL(
        _ bytes: UnsafeRawBufferPointer, descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) -> String? {
        guard let base = bytes.baseAddress, bytes.count > 0, memchr(base, 0, bytes.count) != nil else { return nil }
        return scan(bytes, descriptor, depth: 0)
    }

    private static func scan(
        _ bytes: UnsafeRawBufferPointer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
    ) -> String? {
        var reader = WireReader(bytes: bytes)
        while !reader.atEnd {
            guard let key = reader.varint() else { return nil }
            switch key & 7 {
            case 0:
                guard reader.varint() != nil else { return nil }
            case 1:
                guard reader.skip(8) else { return nil }
            case 5:
                guard reader.skip(4) else { return nil }
            case 2:
                guard let length = reader.varint(), let payload = reader.take(length) else { return nil }
                guard key >> 3 <= UInt64(UInt32.max),
                      let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(key >> 3))
                else { continue }
                let name = { String(cString: field.pointee.name) }
                switch field.pointee.type {
                case PROTOBUF_C_TYPE_STRING:
                    if let start = payload.baseAddress, memchr(start, 0, payload.count) != nil { return name() }
                case PROTOBUF_C_TYPE_MESSAGE where depth < maxDepth:
                    guard let nested = field.pointee.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self),
                          let start = payload.baseAddress, memchr(start, 0, payload.count) != nil
                    else { continue }
                    if let inner = scan(payload, nested, depth: depth + 1) { return name() + "." + inner }
                default:
                    continue  // bytes, packed scalars
                }
            default:
                return nil  // groups (unused in proto3) or a malformed key
            }
        }
        return nil
    }
}

/// Bounds-checked reads over protobuf wire bytes.
private struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var atEnd: Bool { offset >= bytes.count }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count <= bytes.count - offset else { return false }
        offset += count
        return true
    }

    mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer? {
        guard count <= UInt64(bytes.count - offset) else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(count)])
        offset += Int(count)
        return slice
    }
}
