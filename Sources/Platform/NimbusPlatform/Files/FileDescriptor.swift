#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A failed system call: its name, the path and `errno`. `isNoSpace` tells a full disk
/// (ENOSPC, EDQUOT) from other failures, which callers answer differently.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let path: String
    public let errno: Int32

    public init(_ call: String, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
    public var isNotFound: Bool { errno == ENOENT }
    public var description: String { "\(call)(\(path)): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// An open file, with each system call wrapped once (EINTR retried, errors with context).
/// Files are written with plain blocking calls: the caller runs them off the event loops.
public final class FileDescriptor: @unchecked Sendable {  // one owner at a time; fd is immutable
    public let fd: Int32
    public let path: String
    private var closed = false

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { if !closed { _ = Glibc.close(fd) } }

    /// Creates a new file (fails if it exists), mode 0600.
    public static func create(_ path: String) throws -> FileDescriptor {
        try open(path, flags: O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
    }

    public static func openForReading(_ path: String) throws -> FileDescriptor {
        try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
    }

    private static func open(_ path: String, flags: Int32, mode: mode_t) throws -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return FileDescriptor(fd: fd, path: path) }
            if Glibc.errno != EINTR { throw FileError("open", path: path, errno: Glibc.errno) }
        }
    }

    /// Writes every byte (short writes continue).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw FileError("write", path: path, errno: Glibc.errno)
            }
            offset += n
        }
    }

    /// Reads up to `into.count` bytes at `offset`; 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if Glibc.errno != EINTR { throw FileError("pread", path: path, errno: Glibc.errno) }
        }
    }

    public func sync() throws {
        while Glibc.fsync(fd) != 0 {
            if Glibc.errno != EINTR { throw FileError("fsync", path: path, errno: Glibc.errno) }
        }
    }

    /// The file's size in bytes.
    public func size() throws -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError("fstat", path: path, errno: Glibc.errno) }
        return Int64(info.st_size)
    }

    /// Tells the kernel the file will be read sequentially (larger read-ahead).
    public func adviseSequential() {
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
    }

    public func close() throws {
        guard !closed else { return }
        closed = true
        if Glibc.close(fd) != 0 && Glibc.errno != EINTR { throw FileError("close", path: path, errno: Glibc.errno) }
    }
}

/// Directory and path operations for durable writes.
public enum FileSystem {
    /// rename(2): atomic replacement within one file system.
    public static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw FileError("rename", path: "\(from) -> \(to)", errno: Glibc.errno) }
    }

    /// fsync of a directory, so a rename or unlink in it survives a crash.
    public static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path: path, errno: Glibc.errno) }
        defer { _ = Glibc.close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw FileError("fsync", path: path, errno: Glibc.errno) }
    }

    /// unlink(2); a missing file is not an error (true when something was removed).
    @discardableResult
    public static func remove(_ path: String) throws -> Bool {
        if Glibc.unlink(path) == 0 { return true }
        if Glibc.errno == ENOENT { return false }
        throw FileError("unlink", path: path, errno: Glibc.errno)
    }

    /// mkdir -p with mode 0700; returns the directories it created (outermost first), whose
    /// parents must be synced for the new entries to be durable.
    @discardableResult
    public static func makeDirectories(_ path: String) throws -> [String] {
        var created: [String] = []
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if Glibc.mkdir(current, 0o700) == 0 {
                created.append(current)
            } else if Glibc.errno != EEXIST {
                throw FileError("mkdir", path: current, errno: Glibc.errno)
            }
        }
        return created
    }

    public static func exists(_ path: String) -> Bool {
        Glibc.access(path, F_OK) == 0
    }

    /// Regular files under `path` (recursively), as paths relative to it.
    public static func regularFiles(under path: String) -> [String] {
        var out: [String] = []
        func walk(_ relative: String) {
            let full = relative.isEmpty ? path : path + "/" + relative
            guard let dir = opendir(full) else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let child = relative.isEmpty ? name : relative + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) {
                    walk(child)
                } else if entry.pointee.d_type == UInt8(DT_REG) {
                    out.append(child)
                }
            }
        }
        walk("")
        return out
    }
}
