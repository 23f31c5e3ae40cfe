/// Which S3 operation a request is: the bucket and key from path-style (`/bucket/key`) or
/// virtual-host style (`bucket.<base domain>/key`) addressing, the sub-resource from the query.
public struct S3Route: Sendable, Equatable {
    public var operation: S3Operation
    public var bucket: String?
    public var key: String?
    public var query: S3Query

    /// - Parameters:
    ///   - baseDomains: host names under which `<bucket>.<domain>` selects a bucket (without port).
    public static func resolve(method: String, host: String?, path: Substring, rawQuery: Substring?, baseDomains: [String]) throws -> S3Route {
        let query = S3Query(rawQuery)
        var bucket: String?
        var key: String?
        let decodedPath = try S3Query.percentDecode(path, plusIsSpace: false)
        let hostName = host.map { hostWithoutPort($0).lowercased() }
        if let hostName, let domain = baseDomains.first(where: { hostName.hasSuffix("." + $0) }) {
            bucket = String(hostName.dropLast(domain.count + 1))
            let rest = decodedPath.hasPrefix("/") ? String(decodedPath.dropFirst()) : decodedPath
            key = rest.isEmpty ? nil : rest
        } else {
            guard decodedPath.hasPrefix("/") else { throw S3Error.invalidRequest("the request target must start with /") }
            let rest = decodedPath.dropFirst()
            if let slash = rest.firstIndex(of: "/") {
                bucket = String(rest[..<slash])
                let k = String(rest[rest.index(after: slash)...])
                key = k.isEmpty ? nil : k
            } else if !rest.isEmpty {
                bucket = String(rest)
            }
        }
        let operation = try S3Operation.select(method: method, bucket: bucket, key: key, query: query)
        return S3Route(operation: operation, bucket: bucket, key: key, query: query)
    }

    static func hostWithoutPort(_ host: String) -> Substring {
        if host.hasPrefix("[") { return host[...] }  // IPv6 literal: never a virtual host
        return host.split(separator: ":", maxSplits: 1).first ?? host[...]
    }
}

public enum S3Operation: String, Sendable, Equatable {
    case listBuckets = "ListBuckets"
    case createBucket = "CreateBucket", headBucket = "HeadBucket", deleteBucket = "DeleteBucket"
    case getBucketLocation = "GetBucketLocation"
    case getBucketVersioning = "GetBucketVersioning", putBucketVersioning = "PutBucketVersioning"
    case getBucketTagging = "GetBucketTagging", putBucketTagging = "PutBucketTagging", deleteBucketTagging = "DeleteBucketTagging"
    case getBucketAcl = "GetBucketAcl", putBucketAcl = "PutBucketAcl"
    case getBucketPolicy = "GetBucketPolicy", putBucketPolicy = "PutBucketPolicy", deleteBucketPolicy = "DeleteBucketPolicy"
    case getBucketLifecycle = "GetBucketLifecycleConfiguration", putBucketLifecycle = "PutBucketLifecycleConfiguration"
    case deleteBucketLifecycle = "DeleteBucketLifecycle"
    case listObjects = "ListObjects", listObjectsV2 = "ListObjectsV2", listObjectVersions = "ListObjectVersions"
    case listMultipartUploads = "ListMultipartUploads"
    case deleteObjects = "DeleteObjects"
    case putObject = "PutObject", copyObject = "CopyObject", getObject = "GetObject", headObject = "HeadObject"
    case deleteObject = "DeleteObject"
    case getObjectAcl = "GetObjectAcl", putObjectAcl = "PutObjectAcl"
    case getObjectTagging = "GetObjectTagging", putObjectTagging = "PutObjectTagging", deleteObjectTagging = "DeleteObjectTagging"
    case createMultipartUpload = "CreateMultipartUpload", uploadPart = "UploadPart", uploadPartCopy = "UploadPartCopy"
    case completeMultipartUpload = "CompleteMultipartUpload", abortMultipartUpload = "AbortMultipartUpload"
    case listParts = "ListParts"

    /// Whether the operation only reads (anonymous callers reach public-read buckets for these).
    public var isRead: Bool {
        switch self {
        case .headBucket, .listObjects, .listObjectsV2, .getObject, .headObject, .getBucketLocation: true
        default: false
        }
    }

    static func select(method: String, bucket: String?, key: String?, query: S3Query) throws -> S3Operation {
        guard let bucket, !bucket.isEmpty else {
            if method == "GET" { return .listBuckets }
            throw S3Error.methodNotAllowed
        }
        _ = bucket
        if key == nil {
            switch method {
            case "GET":
                if query.has("versioning") { return .getBucketVersioning }
                if query.has("tagging") { return .getBucketTagging }
                if query.has("acl") { return .getBucketAcl }
                if query.has("policy") { return .getBucketPolicy }
                if query.has("lifecycle") { return .getBucketLifecycle }
                if query.has("location") { return .getBucketLocation }
                if query.has("uploads") { return .listMultipartUploads }
                if query.has("versions") { return .listObjectVersions }
                for unsupported in ["cors", "website", "logging", "notification", "replication", "encryption", "object-lock", "ownershipControls",
                                    "publicAccessBlock", "accelerate", "requestPayment", "analytics", "metrics", "inventory", "intelligent-tiering"]
                where query.has(unsupported) {
                    throw S3Error.notImplemented("the \(unsupported) sub-resource")
                }
                return query["list-type"] == "2" ? .listObjectsV2 : .listObjects
            case "PUT":
                if query.has("versioning") { return .putBucketVersioning }
                if query.has("tagging") { return .putBucketTagging }
                if query.has("acl") { return .putBucketAcl }
                if query.has("policy") { return .putBucketPolicy }
                if query.has("lifecycle") { return .putBucketLifecycle }
                if !query.isEmpty, let first = query.items.first?.name { throw S3Error.notImplemented("the \(first) sub-resource") }
                return .createBucket
            case "HEAD": return .headBucket
            case "DELETE":
                if query.has("tagging") { return .deleteBucketTagging }
                if query.has("policy") { return .deleteBucketPolicy }
                if query.has("lifecycle") { return .deleteBucketLifecycle }
                if !query.isEmpty, let first = query.items.first?.name { throw S3Error.notImplemented("the \(first) sub-resource") }
                return .deleteBucket
            case "POST":
                if query.has("delete") { return .deleteObjects }
                throw S3Error.methodNotAllowed
            default: throw S3Error.methodNotAllowed
            }
        }
        switch method {
        case "GET":
            if query.has("uploadId") { return .listParts }
            if query.has("acl") { return .getObjectAcl }
            if query.has("tagging") { return .getObjectTagging }
            return .getObject
        case "HEAD": return .headObject
        case "PUT":
            // UploadPartCopy is the same target with x-amz-copy-source: the handler tells them apart.
            if query.has("partNumber") || query.has("uploadId") { return .uploadPart }
            if query.has("acl") { return .putObjectAcl }
            if query.has("tagging") { return .putObjectTagging }
            return .putObject
        case "DELETE":
            if query.has("uploadId") { return .abortMultipartUpload }
            if query.has("tagging") { return .deleteObjectTagging }
            return .deleteObject
        case "POST":
            if query.has("uploads") { return .createMultipartUpload }
            if query.has("uploadId") { return .completeMultipartUpload }
            throw S3Error.methodNotAllowed
        default: throw S3Error.methodNotAllowed
        }
    }
}

/// A request's query parameters in order, percent-decoded (`+` as space, as S3 reads them).
public struct S3Query: Sendable, Equatable {
    public var items: [(name: String, value: String?)]

    public init(_ raw: Substring?) {
        items = []
        guard let raw, !raw.isEmpty else { return }
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                let name = (try? Self.percentDecode(pair[..<eq], plusIsSpace: true)) ?? String(pair[..<eq])
                let value = (try? Self.percentDecode(pair[pair.index(after: eq)...], plusIsSpace: true)) ?? String(pair[pair.index(after: eq)...])
                items.append((name, value))
            } else {
                items.append(((try? Self.percentDecode(pair, plusIsSpace: true)) ?? String(pair), nil))
            }
        }
    }

    public static func == (a: S3Query, b: S3Query) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var isEmpty: Bool { items.isEmpty }
    public func has(_ name: String) -> Bool { items.contains { $0.name == name } }
    public subscript(_ name: String) -> String? { items.first { $0.name == name }?.value ?? (has(name) ? "" : nil) }

    mutating func add(_ name: String) { items.append((name, nil)) }

    /// Decodes %XX escapes; the result must be UTF-8.
    public static func percentDecode(_ s: Substring, plusIsSpace: Bool) throws -> String {
        guard s.contains("%") || (plusIsSpace && s.contains("+")) else { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let b = it.first {
            it = it.dropFirst()
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it[it.startIndex]), let lo = hexValue(it[it.startIndex + 1]) else {
                    throw S3Error.invalidArgument("invalid percent-encoding in the request")
                }
                out.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw S3Error.invalidArgument("the request is not valid UTF-8") }
        return text
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes for S3's `encoding-type=url` answers (RFC 3986 unreserved kept, `/` too).
    public static func urlEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
