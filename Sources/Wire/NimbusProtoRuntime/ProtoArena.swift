#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CProtobufC
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scratch memory for building the protobuf-c structs of one message before packing it, and
/// for protobuf-c's own allocations while unpacking (`cAllocator`): every struct, string and
/// array allocated here is released at once when the arena is reset, so the generated code
/// never has to pair mallocs with frees. Not thread-safe; one arena per pack or unpack.
///
/// Arenas are reused: `with` takes one from a small lock-free pool and returns it reset, so a
/// message encoded or decoded on the hot path costs no malloc for the arena, its first chunk
/// or protobuf-c's structs (a fresh arena per message cost three allocations and a 4 KiB
/// `calloc`). Memory is zeroed per allocation instead of per chunk.
public final class ProtoArena {
    /// The chunk kept across resets.
    private let first: UnsafeMutableRawPointer
    // One owner at a time (taken from the pool, returned): runtime exclusivity checks are off.
    /// Overflow chunks, freed at reset.
    @exclusivity(unchecked) private var extra: [UnsafeMutableRawPointer] = []
    @exclusivity(unchecked) private var cursor: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var remaining: Int
    private static let chunkSize = 4096

    public init() {
        guard let chunk = malloc(Self.chunkSize) else { fatalError("ProtoArena: out of memory (\(Self.chunkSize) bytes)") }
        first = chunk
        cursor = chunk
        remaining = Self.chunkSize
    }

    deinit {
        for chunk in extra { free(chunk) }
        free(first)
    }

    /// Forgets every allocation (overflow chunks go back to the system).
    func reset() {
        if !extra.isEmpty {
            for chunk in extra { free(chunk) }
            extra.removeAll(keepingCapacity: extra.count <= 8)
        }
        cursor = first
        remaining = Self.chunkSize
    }

    /// Runs `body` with an arena from the pool (or a new one) and releases everything it
    /// allocated afterwards.
    @inlinable
    public static func with<R>(_ body: (ProtoArena) throws -> R) rethrows -> R {
        let arena = takeFromPool()
        defer { returnToPool(arena) }
        return try body(arena)
    }

    @usableFromInline
    static func takeFromPool() -> ProtoArena { ProtoArenaPool.shared.take() ?? ProtoArena() }

    @usableFromInline
    static func returnToPool(_ arena: ProtoArena) {
        arena.reset()
        ProtoArenaPool.shared.give(arena)
    }

    /// Zeroed memory for `count` values of `T`.
    public func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let size = MemoryLayout<T>.stride * max(count, 1)
        let raw = allocateBytes(size, alignment: MemoryLayout<T>.alignment)
        memset(raw, 0, size)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Bytes with malloc's alignment and malloc's contract (not zeroed: protobuf-c initializes
    /// what it allocates, as it must with the system allocator).
    func allocateForC(_ size: Int) -> UnsafeMutableRawPointer {
        allocateBytes(max(size, 1), alignment: 16)
    }

    /// `alignment` is a power of two (a mask, not a division).
    private func allocateBytes(_ size: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let padding = (alignment &- (Int(bitPattern: cursor) & (alignment &- 1))) & (alignment &- 1)
        if padding + size <= remaining {
            let result = cursor + padding
            cursor = result + size
            remaining -= padding + size
            return result
        }
        let chunkSize = max(Self.chunkSize, size + alignment)
        guard let chunk = malloc(chunkSize) else { fatalError("ProtoArena: out of memory (\(chunkSize) bytes)") }
        extra.append(chunk)
        let chunkPadding = (alignment &- (Int(bitPattern: chunk) & (alignment &- 1))) & (alignment &- 1)
        let result = chunk + chunkPadding
        cursor = result + size
        remaining = chunkSize - chunkPadding - size
        return result
    }

    /// A protobuf-c allocator drawing from this arena (its `free` does nothing: reset frees).
    /// Valid while the arena is.
    public var cAllocator: ProtobufCAllocator {
        ProtobufCAllocator(
            alloc: { data, size in
                // Borrowed, not retained: the arena outlives every unpack that allocates from it.
                Unmanaged<ProtoArena>.fromOpaque(data!)._withUnsafeGuaranteedRef { $0.allocateForC(size) }
            },
            free: { _, _ in },
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
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

/// A few idle arenas, one per slot, handed out and back with single atomic exchanges (one per
/// event-loop thread is what the server needs; more concurrent users just allocate).
@usableFromInline
final class ProtoArenaPool: Sendable {
    @usableFromInline static let shared = ProtoArenaPool()
    private let s0 = Atomic<UInt>(0), s1 = Atomic<UInt>(0), s2 = Atomic<UInt>(0), s3 = Atomic<UInt>(0)
    private let s4 = Atomic<UInt>(0), s5 = Atomic<UInt>(0), s6 = Atomic<UInt>(0), s7 = Atomic<UInt>(0)

    @usableFromInline
    func take() -> ProtoArena? {
        var bits = s0.exchange(0, ordering: .acquiring)
        if bits == 0 { bits = s1.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s2.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s3.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s4.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s5.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s6.exchange(0, ordering: .acquiring) }
        if bits == 0 { bits = s7.exchange(0, ordering: .acquiring) }
        guard bits != 0 else { return nil }
        return Unmanaged<ProtoArena>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeRetainedValue()
    }

    @usableFromInline
    func give(_ arena: ProtoArena) {
        let bits = UInt(bitPattern: Unmanaged.passRetained(arena).toOpaque())
        if Self.put(bits, s0) || Self.put(bits, s1) || Self.put(bits, s2) || Self.put(bits, s3)
            || Self.put(bits, s4) || Self.put(bits, s5) || Self.put(bits, s6) || Self.put(bits, s7) {
            return
        }
        Unmanaged<ProtoArena>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release()
    }

    private static func put(_ bits: UInt, _ slot: borrowing Atomic<UInt>) -> Bool {
        slot.compareExchange(expected: 0, desired: bits, ordering: .releasing).exchanged
    }
}
