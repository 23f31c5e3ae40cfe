import Foundation
import NimbusPlatform

/// The additional checksums S3 knows (`x-amz-checksum-<name>`).
public enum ChecksumAlgorithm: String, Sendable, CaseIterable, Codable {
    case crc32 = "CRC32", crc32c = "CRC32C", crc64nvme = "CRC64NVME", sha1 = "SHA1", sha256 = "SHA256"

    public var headerName: String { "x-amz-checksum-\(rawValue.lowercased())" }

    public init?(header: String) {
        self.init(rawValue: header.uppercased().replacingOccurrences(of: "-", with: ""))
    }

    /// The value's length once base64-decoded, to refuse malformed headers early.
    var byteCount: Int {
        switch self {
        case .crc32, .crc32c: 4
        case .crc64nvme: 8
        case .sha1: 20
        case .sha256: 32
        }
    }
}

/// Hashes a body as it streams: always MD5 (the ETag), and the requested checksums. Used by
/// one task at a time.
public final class ObjectHasher {
    private let md5 = StreamingDigest(.md5)
    private var crc32: CRC32?
    private var crc32c: CRC32C?
    private var crc64: CRC64NVME?
    private var sha1: StreamingDigest?
    private var sha256: StreamingDigest?
    public private(set) var count: Int64 = 0

    public init(_ algorithms: Set<ChecksumAlgorithm>) {
        if algorithms.contains(.crc32) { crc32 = CRC32() }
        if algorithms.contains(.crc32c) { crc32c = CRC32C() }
        if algorithms.contains(.crc64nvme) { crc64 = CRC64NVME() }
        if algorithms.contains(.sha1) { sha1 = StreamingDigest(.sha1) }
        if algorithms.contains(.sha256) { sha256 = StreamingDigest(.sha256) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        count += Int64(bytes.count)
        md5.update(bytes)
        crc32?.update(bytes)
        crc32c?.update(bytes)
        crc64?.update(bytes)
        sha1?.update(bytes)
        sha256?.update(bytes)
    }

    public func update<C: ContiguousCollection>(_ bytes: C) where C.Element == UInt8 {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The MD5 and the checksums (base64, as S3 writes them).
    public func finalize() -> (md5: [UInt8], checksums: [String: String]) {
        var out: [String: String] = [:]
        if let crc32 { out["CRC32"] = Data(crc32.bytes).base64EncodedString() }
        if let crc32c { out["CRC32C"] = Data(crc32c.bytes).base64EncodedString() }
        if let crc64 { out["CRC64NVME"] = Data(crc64.bytes).base64EncodedString() }
        if let sha1 { out["SHA1"] = Data(sha1.finalize()).base64EncodedString() }
        if let sha256 { out["SHA256"] = Data(sha256.finalize()).base64EncodedString() }
        return (md5.finalize(), out)
    }

    /// A multipart object's checksum: the checksum of the parts' binary checksums, `-N`
    /// (S3's COMPOSITE type).
    public static func composite(_ algorithm: ChecksumAlgorithm, parts: [String]) -> String? {
        var joined: [UInt8] = []
        for part in parts {
            guard let bytes = Data(base64Encoded: part) else { return nil }
            joined += bytes
        }
        let hasher = ObjectHasher([algorithm])
        hasher.update(joined)
        return hasher.finalize().checksums[algorithm.rawValue].map { "\($0)-\(parts.count)" }
    }
}

/// CRC-64/NVME (S3's `x-amz-checksum-crc64nvme`), table-driven.
struct CRC64NVME: Sendable {
    private var state: UInt64 = ~0

    private static let table: [UInt64] = (0..<256).map { b in
        var crc = UInt64(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 : crc >> 1 }
        return crc
    }

    var value: UInt64 { ~state }
    var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        Self.table.withUnsafeBufferPointer { t in
            for b in bytes { crc = t[Int((crc ^ UInt64(b)) & 0xFF)] ^ (crc >> 8) }
        }
        state = crc
    }
}
