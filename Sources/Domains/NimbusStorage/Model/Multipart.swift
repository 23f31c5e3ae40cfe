import Foundation

public struct MultipartUpload: Sendable, Equatable {
    public var id: String
    public var bucketID: String
    public var key: String
    public var tenantID: String
    public var headers: [String: String]
    public var userMetadata: [String: String]
    /// The checksum algorithm parts carry (`CRC32`, …), empty for none.
    public var checksumAlgorithm: String
    public var createdAt: Date
}

public struct UploadedPart: Sendable, Equatable {
    public var number: Int
    public var size: Int64
    public var etag: String
    public var checksums: [String: String]
    public var blob: String
    public var createdAt: Date
}

/// Multipart rules (S3's limits): parts 1…10,000, each but the last at least 5 MiB, at most
/// 5 GiB per part and per single PUT.
public enum MultipartRules {
    public static let minimumPartSize: Int64 = 5 << 20
    public static let maximumPartSize: Int64 = 5 << 30
    public static let maximumPutSize: Int64 = 5 << 30
    public static let maximumParts = 10_000

    /// Checks a CompleteMultipartUpload's list against the uploaded parts: ascending numbers,
    /// each named part present with its ETag (and checksum, when given), all but the last
    /// at least `minimumPartSize`. Returns the parts in order.
    public static func validate(_ requested: [S3Shapes.CompletedPart], uploaded: [Int: UploadedPart],
                                minimumPartSize: Int64 = minimumPartSize) throws -> [UploadedPart] {
        var previous = 0
        var chosen: [UploadedPart] = []
        for part in requested {
            guard part.number > previous else { throw S3Error.invalidPartOrder }
            previous = part.number
            guard let stored = uploaded[part.number], ETag.unquoted(stored.etag) == ETag.unquoted(part.etag) else { throw S3Error.invalidPart }
            for (algorithm, value) in part.checksums {
                if let have = stored.checksums[algorithm], have != value { throw S3Error.invalidPart }
            }
            chosen.append(stored)
        }
        for part in chosen.dropLast() where part.size < minimumPartSize { throw S3Error.entityTooSmall }
        return chosen
    }
}
