import Foundation

/// Conditional request headers (RFC 9110 §13 as S3 applies them). Reads answer 412 or 304;
/// writes (`PutObject`, `CompleteMultipartUpload`) honour `If-Match` and `If-None-Match: *`.
public struct S3Conditions: Sendable, Equatable {
    public var ifMatch: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: Date?
    public var ifUnmodifiedSince: Date?

    public init(ifMatch: String? = nil, ifNoneMatch: String? = nil, ifModifiedSince: Date? = nil, ifUnmodifiedSince: Date? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
    }

    /// From a request's headers, `prefix` "" or "x-amz-copy-source-" (copy source conditions).
    public init(header: (String) -> String?, prefix: String = "") {
        ifMatch = header(prefix + "if-match")
        ifNoneMatch = header(prefix + "if-none-match")
        ifModifiedSince = header(prefix + "if-modified-since").flatMap(S3Date.parse)
        ifUnmodifiedSince = header(prefix + "if-unmodified-since").flatMap(S3Date.parse)
    }

    public var isEmpty: Bool { ifMatch == nil && ifNoneMatch == nil && ifModifiedSince == nil && ifUnmodifiedSince == nil }

    /// GET/HEAD against the current object: nil to proceed, else 412 or 304. Dates compare
    /// at whole seconds (Last-Modified carries no more).
    public func evaluateRead(etag: String, lastModified: Date) -> S3Error? {
        let modified = lastModified.timeIntervalSince1970.rounded(.down)
        if let ifMatch {
            if !ETag.matches(ifMatch, etag) { return .preconditionFailed }
        } else if let ifUnmodifiedSince, modified > ifUnmodifiedSince.timeIntervalSince1970 {
            return .preconditionFailed
        }
        if let ifNoneMatch {
            if ETag.matches(ifNoneMatch, etag) { return .notModified }
        } else if let ifModifiedSince, modified <= ifModifiedSince.timeIntervalSince1970 {
            return .notModified
        }
        return nil
    }

    /// A copy source's conditions: every failure is 412 (never 304).
    public func evaluateCopySource(etag: String, lastModified: Date) -> S3Error? {
        evaluateRead(etag: etag, lastModified: lastModified).map { _ in .preconditionFailed }
    }

    /// A write against what the key holds now (`current` nil: no object or a delete marker).
    /// `If-None-Match: *` fails when an object exists; `If-Match` fails when none exists (404)
    /// or its ETag differs (412).
    public func evaluateWrite(current: (etag: String, lastModified: Date)?) -> S3Error? {
        if let ifNoneMatch {
            if let current, ETag.matches(ifNoneMatch, current.etag) { return .preconditionFailed }
        }
        if let ifMatch {
            guard let current else { return .noSuchKey }
            if !ETag.matches(ifMatch, current.etag) { return .preconditionFailed }
        }
        return nil
    }
}
