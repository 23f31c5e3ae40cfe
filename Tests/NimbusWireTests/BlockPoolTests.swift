import CNimbusShims
import Testing

/// The small-block cache behind each HTTP/2 server session's nghttp2 allocator.
@Suite("Block pool")
struct BlockPoolTests {
    @Test func blocksAreReusedByClassAndKeepTheirContents() throws {
        let pool = try #require(CNimbusShims_BlockPool_create())
        defer { CNimbusShims_BlockPool_destroy(pool) }
        let user = UnsafeMutableRawPointer(pool)
        let a = try #require(CNimbusShims_BlockPool_malloc(40, user))
        #expect(Int(bitPattern: a) % 16 == 0)
        CNimbusShims_BlockPool_free(a, user)
        // Same class (33–64 bytes): the freed block comes back.
        let b = try #require(CNimbusShims_BlockPool_malloc(60, user))
        #expect(a == b)
        // calloc zeroes even a reused block.
        memset(b, 0xAB, 60)
        CNimbusShims_BlockPool_free(b, user)
        let c = try #require(CNimbusShims_BlockPool_calloc(6, 10, user)).assumingMemoryBound(to: UInt8.self)
        #expect((0..<60).allSatisfy { c[$0] == 0 })
        // realloc within the class keeps the block; beyond it, moves and keeps the bytes.
        for i in 0..<60 { c[i] = UInt8(i) }
        let same = try #require(CNimbusShims_BlockPool_realloc(c, 64, user))
        #expect(same == UnsafeMutableRawPointer(c))
        let grown = try #require(CNimbusShims_BlockPool_realloc(same, 4000, user)).assumingMemoryBound(to: UInt8.self)
        #expect((0..<60).allSatisfy { grown[$0] == UInt8($0) })
        CNimbusShims_BlockPool_free(grown, user)
        CNimbusShims_BlockPool_free(nil, user)
        // Overflowing sizes are refused, not wrapped.
        #expect(CNimbusShims_BlockPool_calloc(Int.max, 16, user) == nil)
    }
}
