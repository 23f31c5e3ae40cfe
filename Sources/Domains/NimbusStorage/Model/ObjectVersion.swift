import Foundation
import NimbusPlatform

/// One version of an object (or a delete marker), as stored.
public struct ObjectVersion: Sendable, Equatable {
    public var id: Int64
    public var bucketID: String
    public var key: String
    public var versionID: String
    public var isLatest: Bool
    public var deleteMarker: Bool
    public var size: Int64
    /// Quoted hex MD5, or `"<md5 of md5s>-N"` for multipart.
    public var etag: String
    /// Algorithm (`CRC32`, `CRC32C`, `SHA1`, `SHA256`) → base64 value (multipart: `…-N`).
    public var checksums: [String: String]
    /// Standard headers stored with the object, lower-case names.
    public var headers: [String: String]
    /// `x-amz-meta-*` without the prefix, lower-case names.
    public var userMetadata: [String: String]
    public var partSizes: [Int64]
    /// The blobs holding the bytes in order (one per part for multipart; none for a marker).
    public var blobs: [String]
    public var createdAt: Date

    public static let nullVersion = "null"

    /// Version ids sort by creation (time then random), are URL-safe and 32 characters.
    static func makeVersionID() -> String {
        let micros = UInt64(Date().timeIntervalSince1970 * 1_000_000)
        let time = String(micros, radix: 16)
        let random = (try? SecureRandom.bytes(8)).map(Hex.encode) ?? String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: max(0, 16 - time.count)) + time + random
    }
}

/// The headers S3 stores with an object and returns on GET/HEAD.
enum StoredHeaders {
    static let names = ["content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires"]
}

/// S3's ETag forms.
public enum ETag {
    public static func single(md5: [UInt8]) -> String { "\"\(Hex.encode(md5))\"" }

    /// MD5 of the parts' binary MD5s, then `-N`.
    public static func multipart(partETags: [String]) -> String {
        var concatenated: [UInt8] = []
        for etag in partETags { concatenated += Hex.decode(unquoted(etag)) ?? [] }
        return "\"\(Hex.encode(StreamingDigest.hash(.md5, concatenated)))-\(partETags.count)\""
    }

    public static func unquoted(_ etag: String) -> String {
        var s = Substring(etag.trimmingCharacters(in: .whitespaces))
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 { s = s.dropFirst().dropLast() }
        return String(s)
    }

    /// An `If-Match`/`If-None-Match` list against one ETag (`*` matches any).
    public static func matches(_ header: String, _ etag: String) -> Bool {
        let target = unquoted(etag)
        return header.split(separator: ",").contains { candidate in
            let c = candidate.trimmingCharacters(in: .whitespaces)
            return c == "*" || unquoted(c) == target
        }
    }
}
