#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CProtobufC
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scratch memory for building the protobuf-c structs of one message before packing it: every
/// struct, string and array allocated here is freed at once when the arena goes away, so the
/// generated code never has to pair mallocs with frees. Not thread-safe; one arena per pack.
public final class ProtoArena {
    private var chunks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0
    private static let chunkSize = 4096

    public init() {}

    deinit {
        for chunk in chunks { free(chunk) }
    }

    /// Runs `body` with a fresh arena and frees everything it allocated afterwards.
    @inlinable
    public static func with<R>(_ body: (ProtoArena) throws -> R) rethrows -> R {
        let arena = ProtoArena()
        return try withExtendedLifetime(arena) { try body(arena) }
    }

    /// Zeroed memory for `count` values of `T`.
    public func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let raw = allocateBytes(MemoryLayout<T>.stride * max(count, 1), alignment: MemoryLayout<T>.alignment)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    private func allocateBytes(_ size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let cursor {
            let padding = (alignment - Int(bitPattern: cursor) % alignment) % alignment
            if padding + size <= remaining {
                let result = cursor + padding
                self.cursor = result + size
                remaining -= padding + size
                return result  // still zero: chunks come from calloc and are never reused
            }
        }
        let chunkSize = max(Self.chunkSize, size + alignment)
        guard let chunk = calloc(1, chunkSize) else { fatalError("ProtoArena: out of memory (\(chunkSize) bytes)") }
        chunks.append(chunk)
        let padding = (alignment - Int(bitPattern: chunk) % alignment) % alignment
        let result = chunk + padding
        cursor = result + size
        remaining = chunkSize - padding - size
        return result
    }

    /// A NUL-terminated copy of `string` (protobuf-c strings are C strings, so text after an
    /// embedded NUL is not encoded).
    public func string(_ string: String) -> UnsafeMutablePointer<CChar>? {
        var string = string
        return string.withUTF8 { utf8 in
            let p = allocate(CChar.self, count: utf8.count + 1)
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(p).copyMemory(from: base, byteCount: utf8.count)
            }
            p[utf8.count] = 0
            return p
        }
    }

    /// A protobuf-c bytes value holding a copy of `data`.
    public func binary(_ data: Data) -> ProtobufCBinaryData {
        guard !data.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let p = allocate(UInt8.self, count: data.count)
        data.copyBytes(to: p, count: data.count)
        return ProtobufCBinaryData(len: data.count, data: p)
    }

    /// A C array holding `values`; nil when empty (protobuf-c reads nothing then).
    public func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let p = allocate(T.self, count: values.count)
        p.initialize(from: values, count: values.count)
        return p
    }
}
