import COpenSSL
import Foundation

/// One schema change: `NNNN_name.up.sql` and its optional `.down.sql`.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var up: String
    public var down: String?

    public init(version: Int, name: String, up: String, down: String?) {
        self.version = version
        self.name = name
        self.up = up
        self.down = down
    }

    /// SHA-256 of the up SQL, hex. An applied migration whose file changed no longer matches.
    public var checksum: String { Self.sha256Hex(up) }

    static func sha256Hex(_ text: String) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let bytes = Array(text.utf8)
        _ = SHA256(bytes, bytes.count, &digest)
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// Where one migration stands in a schema.
public struct MigrationStatus: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var applied: Bool
    public var dirty: Bool
    public var appliedAt: Date?
    /// False when the applied checksum differs from the embedded file's.
    public var checksumMatches: Bool
    /// False for a version recorded in the database but absent from this binary.
    public var known: Bool
}
