import Dispatch
import Foundation
import NimbusPlatform

/// Blobs as files under a data directory: `blobs/<2 hex>/<2 hex>/<id>` (65,536 leaf
/// directories, so none grows large), written as `tmp/<id>` first, fsynced, renamed into
/// place and the directory fsynced. Blocking file calls run on Dispatch's threads, never on
/// an event loop.
public struct FileBlobStore: BlobStore {
    public let root: String
    /// Writes are gathered to this size before a write(2).
    let flushSize: Int

    public init(root: String, flushSize: Int = 1 << 20) throws {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.flushSize = flushSize
        do {
            try FileSystem.makeDirectories(self.root + "/blobs")
            try FileSystem.makeDirectories(self.root + "/tmp")
        } catch let error as FileError {
            throw BlobStoreError(.io, "cannot prepare data directory: \(error)")
        }
    }

    func path(of id: String) -> (directory: String, file: String) {
        let hash = Hex.encode(Array(SHA256.hash(id).prefix(2)))
        let directory = "\(root)/blobs/\(hash.prefix(2))/\(hash.dropFirst(2))"
        return (directory, "\(directory)/\(id)")
    }

    func tempPath(of id: String) -> String { "\(root)/tmp/\(id)" }

    static func validate(_ id: String) throws {
        guard !id.isEmpty, id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == UInt8(ascii: "-") }) else {
            throw BlobStoreError(.notFound, "invalid blob id")
        }
    }

    public func create(_ id: String) async throws -> any BlobWriter {
        try Self.validate(id)
        let temp = tempPath(of: id)
        let file = try await BlockingIO.run { try FileDescriptor.create(temp) }
        return FileBlobWriter(store: self, id: id, file: file)
    }

    public func open(_ id: String) async throws -> any BlobReader {
        try Self.validate(id)
        let path = path(of: id).file
        let file = try await BlockingIO.run { () throws -> FileDescriptor in
            let file = try FileDescriptor.openForReading(path)
            file.adviseSequential()
            return file
        }
        return FileBlobReader(file: file, size: try await BlockingIO.run { try file.size() })
    }

    public func delete(_ id: String) async throws {
        try Self.validate(id)
        let paths = (path(of: id), tempPath(of: id))
        try await BlockingIO.run {
            try FileSystem.remove(paths.0.file)
            try FileSystem.remove(paths.1)
        }
    }

    public func exists(_ id: String) async -> Bool {
        guard (try? Self.validate(id)) != nil else { return false }
        return FileSystem.exists(path(of: id).file)
    }
}

final class FileBlobWriter: BlobWriter, @unchecked Sendable {  // used by one task at a time
    let store: FileBlobStore
    let id: String
    let file: FileDescriptor
    private var buffer: [UInt8] = []
    private var done = false

    init(store: FileBlobStore, id: String, file: FileDescriptor) {
        self.store = store
        self.id = id
        self.file = file
        buffer.reserveCapacity(store.flushSize)
    }

    func write(_ bytes: ArraySlice<UInt8>) async throws {
        buffer += bytes
        if buffer.count >= store.flushSize { try await flush() }
    }

    private func flush() async throws {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        let file = self.file
        try await BlockingIO.run { try pending.withUnsafeBytes { try file.writeAll($0) } }
    }

    func finish() async throws {
        try await flush()
        let file = self.file
        let temp = store.tempPath(of: id)
        let (directory, final) = store.path(of: id)
        let root = store.root
        try await BlockingIO.run {
            try file.sync()
            try file.close()
            let created = try FileSystem.makeDirectories(directory)
            try FileSystem.rename(temp, to: final)
            try FileSystem.syncDirectory(directory)
            // New fan-out directories must be durable in their parents too.
            for dir in created.reversed() {
                let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.endIndex)])
                try FileSystem.syncDirectory(parent.isEmpty ? root : parent)
            }
        }
        done = true
    }

    func abandon() async {
        guard !done else { return }
        done = true
        let file = self.file
        let temp = store.tempPath(of: id)
        await BlockingIO.run {
            try? file.close()
            _ = try? FileSystem.remove(temp)
        }
    }
}

final class FileBlobReader: BlobReader, @unchecked Sendable {  // pread needs no shared position
    let file: FileDescriptor
    let size: Int64

    init(file: FileDescriptor, size: Int64) {
        self.file = file
        self.size = size
    }

    func read(at offset: Int64, count: Int) async throws -> [UInt8] {
        let file = self.file
        return try await BlockingIO.run {
            var out = [UInt8](repeating: 0, count: count)
            var filled = 0
            try out.withUnsafeMutableBytes { buffer in
                while filled < count {
                    let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: offset + Int64(filled))
                    if n == 0 { break }
                    filled += n
                }
            }
            if filled < count { out.removeLast(count - filled) }
            return out
        }
    }

    func close() async { try? file.close() }
}

/// Runs blocking file calls on Dispatch's global threads and resumes the caller after.
enum BlockingIO {
    static let queue = DispatchQueue(label: "nimbus.storage.io", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                queue.async { continuation.resume(with: Result { try body() }) }
            }
        } catch let error as FileError {
            throw BlobStoreError(error.isNoSpace ? .noSpace : error.isNotFound ? .notFound : .io, error.description)
        }
    }

    static func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            queue.async {
                body()
                continuation.resume()
            }
        }
    }
}
