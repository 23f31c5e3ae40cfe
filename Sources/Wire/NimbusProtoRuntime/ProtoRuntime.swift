#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CProtobufC
import NimbusRPCCore

/// Conversions between protobuf-c field values and Swift values, used by generated code.
public enum ProtoRuntime {
    /// Packs a protobuf-c message struct (any generated struct starts with its
    /// `ProtobufCMessage base`).
    public static func pack<T>(_ message: UnsafeMutablePointer<T>) -> [UInt8] {
        packMessage(UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self))
    }

    /// The work of `pack`, not generic.
    static func packMessage(_ base: UnsafeMutablePointer<ProtobufCMessage>) -> [UInt8] {
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return [] }
        // Packed into scratch space, then appended to a reserved array: every way of making an
        // array of a given size (`init(unsafeUninitializedCapacity:)`, `init(repeating:count:)`)
        // went through the runtime's unspecialized buffer initializer, which looks the storage
        // class's metadata up in a cache on every call; the copy of a message costs less.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { scratch in
            let count = protobuf_c_message_pack(base, scratch.baseAddress)
            precondition(count == size, "protobuf-c packed \(count) bytes, expected \(size)")
            bytes.append(contentsOf: UnsafeBufferPointer(scratch))
        }
        return bytes
    }

    /// A decoded string; proto3 strings must be valid UTF-8, anything else is malformed.
    public static func string(_ p: UnsafePointer<CChar>?, in messageName: String) throws(ProtoDecodingError) -> String {
        guard let p, p.pointee != 0 else { return "" }
        guard let s = String(validatingCString: p) else { throw ProtoDecodingError(messageName: messageName) }
        return s
    }

    public static func data(_ binary: ProtobufCBinaryData) -> Data {
        guard binary.len > 0, let p = binary.data else { return Data() }
        return Data(bytes: p, count: binary.len)
    }

    /// The `count` values at `p` (protobuf-c's `n_x` / `x` pairs).
    public static func array<T>(_ p: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeBufferPointer<T> {
        guard let p, count > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: p, count: count)
    }

    public static func unwrap<T>(_ p: UnsafeMutablePointer<T>?, in messageName: String) throws(ProtoDecodingError) -> UnsafeMutablePointer<T> {
        guard let p else { throw ProtoDecodingError(messageName: messageName) }
        return p
    }

    /// The range `google.protobuf.Timestamp` allows: 0001-01-01T00:00:00Z … 9999-12-31T23:59:59Z.
    public static let timestampSeconds: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

    /// `google.protobuf.Timestamp` parts of a date (nanoseconds rounded, normalized to 0..<1e9),
    /// clamped to the range a Timestamp allows (a non-finite date encodes as the epoch).
    public static func timestamp(_ date: Date) -> (seconds: Int64, nanos: Int32) {
        var interval = date.timeIntervalSince1970
        guard interval.isFinite else { return (0, 0) }
        interval = min(max(interval, Double(timestampSeconds.lowerBound)), Double(timestampSeconds.upperBound))
        var seconds = interval.rounded(.down)
        var nanos = ((interval - seconds) * 1_000_000_000).rounded()
        if nanos >= 1_000_000_000 { seconds += 1; nanos -= 1_000_000_000 }
        return (Int64(seconds), Int32(nanos))
    }

    public static func date(seconds: Int64, nanos: Int32) -> Date {
        Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1_000_000_000)
    }

    /// Map keys in a fixed order so that encoding a dictionary is deterministic.
    public static func sortedKeys<K: Comparable, V>(_ map: [K: V]) -> [(key: K, value: V)] {
        map.sorted { $0.key < $1.key }
    }

    public static func sortedKeys<V>(_ map: [Bool: V]) -> [(key: Bool, value: V)] {
        map.sorted { !$0.key && $1.key }
    }
}

extension ProtoRuntime {
    /// Decodes base64 text (whitespace ignored), as generated code embeds descriptors.
    public static func bytes(base64 text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            default: continue  // padding, whitespace
            }
            buffer = (buffer << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}

extension ProtoRuntime {
    /// Unpacks `bytes` as the message `descriptor` describes, lets `read` convert the protobuf-c
    /// struct, then frees it. Malformed bytes throw `ProtoDecodingError`.
    public static func unpack<C, R>(
        _ bytes: [UInt8], descriptor: UnsafePointer<ProtobufCMessageDescriptor>, as type: C.Type,
        messageName: String, _ read: (UnsafePointer<C>) throws -> R
    ) throws -> R {
        // protobuf-c allocates the struct, strings and arrays from a pooled arena: no malloc
        // or free per field, and nothing to free one by one afterwards.
        try ProtoArena.with { arena in
            let unpacked = try unpackMessage(bytes, descriptor: descriptor, messageName: messageName, arena: arena)
            return try read(UnsafeRawPointer(unpacked).assumingMemoryBound(to: C.self))
        }
    }

    /// The work of `unpack`, not generic (see `packMessage`): the message lives in `arena`.
    static func unpackMessage(
        _ bytes: [UInt8], descriptor: UnsafePointer<ProtobufCMessageDescriptor>, messageName: String, arena: ProtoArena
    ) throws(ProtoDecodingError) -> UnsafeMutablePointer<ProtobufCMessage> {
        var allocator = arena.cAllocator
        let unpacked = try bytes.withUnsafeBufferPointer { buffer throws(ProtoDecodingError) in
            if let field = ProtoStringCheck.fieldContainingNUL(UnsafeRawBufferPointer(buffer), descriptor: descriptor) {
                throw ProtoDecodingError(messageName: messageName, reason: "string field '\(field)' contains U+0000, which is not supported")
            }
            return protobuf_c_message_unpack(descriptor, &allocator, buffer.count, buffer.baseAddress)
        }
        guard let unpacked else { throw ProtoDecodingError(messageName: messageName) }
        return unpacked
    }
}

extension ProtoRuntime {
    /// Decodes a message the generator embedded (it came from protoc, so it is well formed).
    public static func embedded<M: ProtoMessage>(_ type: M.Type, base64: String) -> M {
        do {
            return try M(serializedBytes: bytes(base64: base64))
        } catch {
            preconditionFailure("embedded \(M.protoMessageName) does not decode: \(error)")
        }
    }
}
