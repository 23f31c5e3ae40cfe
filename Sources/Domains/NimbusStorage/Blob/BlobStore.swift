/// Where object bytes live. Metadata (PostgreSQL) decides what exists; a blob is only ever
/// written whole under a fresh id and never changed, so readers need no locks. Ids are chosen
/// by the caller before writing (a tombstone row for the id is committed first, so bytes a
/// crash leaves behind are found and reclaimed by the janitor).
public protocol BlobStore: Sendable {
    /// Starts writing blob `id`; nothing is visible under `id` until `finish()` returns.
    func create(_ id: String) async throws -> any BlobWriter
    /// Opens a finished blob for reading.
    func open(_ id: String) async throws -> any BlobReader
    /// Removes a blob and any unfinished write of it; a missing one is not an error.
    func delete(_ id: String) async throws
    /// Whether a finished blob exists (the janitor's and tests' view).
    func exists(_ id: String) async -> Bool
}

public protocol BlobWriter: Sendable {
    /// Appends bytes (buffered; flushed in large writes).
    func write(_ bytes: ArraySlice<UInt8>) async throws
    /// Makes the bytes durable and visible under the id (fsync, rename, directory fsync).
    func finish() async throws
    /// Drops an unfinished write.
    func abandon() async
}

public protocol BlobReader: Sendable {
    var size: Int64 { get }
    /// Reads up to `count` bytes at `offset`; fewer only at the end.
    func read(at offset: Int64, count: Int) async throws -> [UInt8]
    func close() async
}

/// Why a blob operation failed, in the terms the S3 face answers with.
public struct BlobStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case noSpace, notFound, io }
    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "blob store \(kind): \(detail)" }
}
