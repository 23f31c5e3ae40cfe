import Foundation
import NimbusPlatform

/// The checksums S3 clients attach to a payload (`x-amz-checksum-<name>`, in a header or an
/// aws-chunked trailer), base64 of the big-endian digest.
public enum S3ChecksumAlgorithm: String, Sendable, Hashable, CaseIterable {
    case crc32, crc32c, sha1, sha256

    /// `x-amz-checksum-crc32` …
    public var headerName: String { "x-amz-checksum-\(rawValue)" }
    /// As S3 names it in messages and `x-amz-sdk-checksum-algorithm`: CRC32, SHA256 …
    public var displayName: String { rawValue.uppercased() }

    public init?(headerName: some StringProtocol) {
        let lower = headerName.lowercased()
        guard lower.hasPrefix("x-amz-checksum-") else { return nil }
        self.init(rawValue: String(lower.dropFirst("x-amz-checksum-".count)))
    }
}

/// A checksum computed as bytes stream past.
public struct S3ChecksumComputer {
    public let algorithm: S3ChecksumAlgorithm
    private var crc32: CRC32?
    private var crc32c: CRC32C?
    private let digest: StreamingDigest?

    public init(_ algorithm: S3ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: crc32 = CRC32(); digest = nil
        case .crc32c: crc32c = CRC32C(); digest = nil
        case .sha1: digest = StreamingDigest(.sha1)
        case .sha256: digest = StreamingDigest(.sha256)
        }
    }

    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        if crc32 != nil { crc32!.update(bytes) } else if crc32c != nil { crc32c!.update(bytes) } else { digest?.update(bytes) }
    }

    /// The base64 value S3 sends and stores; ends the computation.
    public mutating func finalize() -> String {
        let raw = crc32?.bytes ?? crc32c?.bytes ?? digest?.finalize() ?? []
        return Data(raw).base64EncodedString()
    }
}

/// A checksum with its value (base64, as on the wire).
public struct S3Checksum: Sendable, Hashable {
    public var algorithm: S3ChecksumAlgorithm
    public var value: String
    public init(algorithm: S3ChecksumAlgorithm, value: String) {
        self.algorithm = algorithm
        self.value = value
    }
}
