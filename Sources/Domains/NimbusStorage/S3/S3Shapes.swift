import Foundation

/// S3's XML documents, written and read. Pure: values in, bytes out (and back).
public enum S3Shapes {
    static let ns = XMLWriter.s3Namespace
    /// Tenants appear as the owner; S3 clients only display it.
    static func owner(_ w: inout XMLWriter, _ tenant: String) {
        w.element("Owner") { w in
            w.element("ID", tenant)
            w.element("DisplayName", tenant)
        }
    }

    public static func error(_ error: S3Error, requestID: String) -> [UInt8] {
        var w = XMLWriter()
        w.element("Error") { w in
            w.element("Code", error.code)
            w.element("Message", error.message)
            w.element("Resource", error.resource)
            w.element("RequestId", requestID)
        }
        return w.bytes
    }

    public static func listBuckets(_ buckets: [Bucket], owner tenant: String) -> [UInt8] {
        var w = XMLWriter()
        w.element("ListAllMyBucketsResult", namespace: ns) { w in
            owner(&w, tenant)
            w.element("Buckets") { w in
                for bucket in buckets {
                    w.element("Bucket") { w in
                        w.element("Name", bucket.name)
                        w.element("CreationDate", S3Date.iso(bucket.createdAt))
                    }
                }
            }
        }
        return w.bytes
    }

    public static func location() -> [UInt8] {
        var w = XMLWriter()
        w.element("LocationConstraint", namespace: ns) { _ in }
        return w.bytes
    }

    public static func versioning(_ state: VersioningState) -> [UInt8] {
        var w = XMLWriter()
        w.element("VersioningConfiguration", namespace: ns) { w in w.element("Status", state.s3Status) }
        return w.bytes
    }

    public static func tagging(_ tags: [String: String]) -> [UInt8] {
        var w = XMLWriter()
        w.element("Tagging", namespace: ns) { w in
            w.element("TagSet") { w in
                for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
                    w.element("Tag") { w in
                        w.element("Key", key)
                        w.element("Value", value)
                    }
                }
            }
        }
        return w.bytes
    }

    public static func acl(owner tenant: String, publicRead: Bool) -> [UInt8] {
        var w = XMLWriter()
        w.element("AccessControlPolicy", namespace: ns) { w in
            owner(&w, tenant)
            w.element("AccessControlList") { w in
                w.raw(#"<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">"#)
                w.element("ID", tenant)
                w.element("DisplayName", tenant)
                w.raw("</Grantee><Permission>FULL_CONTROL</Permission></Grant>")
                if publicRead {
                    w.raw(#"<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">"#)
                    w.element("URI", "http://acs.amazonaws.com/groups/global/AllUsers")
                    w.raw("</Grantee><Permission>READ</Permission></Grant>")
                }
            }
        }
        return w.bytes
    }

    public static func lifecycle(_ rules: [LifecycleRule]) -> [UInt8] {
        var w = XMLWriter()
        w.element("LifecycleConfiguration", namespace: ns) { w in
            for rule in rules {
                w.element("Rule") { w in
                    w.element("ID", rule.id)
                    w.element("Filter") { w in w.element("Prefix", rule.prefix) }
                    w.element("Status", rule.enabled ? "Enabled" : "Disabled")
                    if let days = rule.expirationDays { w.element("Expiration") { w in w.element("Days", days) } }
                    if let days = rule.noncurrentDays { w.element("NoncurrentVersionExpiration") { w in w.element("NoncurrentDays", days) } }
                    if let days = rule.abortIncompleteDays {
                        w.element("AbortIncompleteMultipartUpload") { w in w.element("DaysAfterInitiation", days) }
                    }
                }
            }
        }
        return w.bytes
    }

    static func checksumElements(_ w: inout XMLWriter, _ checksums: [String: String]) {
        for algorithm in ChecksumAlgorithm.allCases {
            if let value = checksums[algorithm.rawValue] { w.element("Checksum\(algorithm.rawValue)", value) }
        }
    }

    /// What a list request asked for, echoed in its answer.
    public struct ListRequest: Sendable {
        public var prefix: String
        public var delimiter: String?
        public var maxKeys: Int
        public var encodeURL: Bool
        public var startAfter: String?
        public var continuationToken: String?
        public var marker: String?
        public var fetchOwner: Bool = false
        public var keyMarker: String?
        public var versionIDMarker: String?
    }

    public struct ListResult: Sendable {
        public var objects: [ObjectVersion]
        public var commonPrefixes: [String]
        public var isTruncated: Bool
        public var next: String?
        public var nextVersionID: String?
    }

    public static func listObjects(bucket: String, owner tenant: String, _ request: ListRequest, _ result: ListResult, v2: Bool) -> [UInt8] {
        let encodeURL = request.encodeURL
        let enc: (String) -> String = { encodeURL ? S3Query.urlEncode($0) : $0 }
        var w = XMLWriter()
        w.element("ListBucketResult", namespace: ns) { w in
            w.element("Name", bucket)
            w.element("Prefix", enc(request.prefix))
            if v2 {
                w.element("StartAfter", request.startAfter.map(enc))
                w.element("ContinuationToken", request.continuationToken)
                w.element("KeyCount", result.objects.count + result.commonPrefixes.count)
                if result.isTruncated, let next = result.next { w.element("NextContinuationToken", ContinuationToken.encode(next)) }
            } else {
                w.element("Marker", enc(request.marker ?? ""))
                // NextMarker only with a delimiter (clients use the last key otherwise).
                if result.isTruncated, request.delimiter != nil, let next = result.next { w.element("NextMarker", enc(next)) }
            }
            w.element("MaxKeys", request.maxKeys)
            w.element("Delimiter", request.delimiter.map(enc))
            if request.encodeURL { w.element("EncodingType", "url") }
            w.element("IsTruncated", result.isTruncated)
            for object in result.objects {
                w.element("Contents") { w in
                    w.element("Key", enc(object.key))
                    w.element("LastModified", S3Date.iso(object.createdAt))
                    w.element("ETag", object.etag)
                    checksumAlgorithms(&w, object.checksums)
                    w.element("Size", object.size)
                    if !v2 || request.fetchOwner { owner(&w, tenant) }
                    w.element("StorageClass", "STANDARD")
                }
            }
            for prefix in result.commonPrefixes {
                w.element("CommonPrefixes") { w in w.element("Prefix", enc(prefix)) }
            }
        }
        return w.bytes
    }

    static func checksumAlgorithms(_ w: inout XMLWriter, _ checksums: [String: String]) {
        for algorithm in ChecksumAlgorithm.allCases where checksums[algorithm.rawValue] != nil {
            w.element("ChecksumAlgorithm", algorithm.rawValue)
        }
    }

    public static func listVersions(bucket: String, owner tenant: String, _ request: ListRequest, _ result: ListResult) -> [UInt8] {
        let encodeURL = request.encodeURL
        let enc: (String) -> String = { encodeURL ? S3Query.urlEncode($0) : $0 }
        var w = XMLWriter()
        w.element("ListVersionsResult", namespace: ns) { w in
            w.element("Name", bucket)
            w.element("Prefix", enc(request.prefix))
            w.element("KeyMarker", enc(request.keyMarker ?? ""))
            w.element("VersionIdMarker", request.versionIDMarker ?? "")
            if result.isTruncated {
                w.element("NextKeyMarker", result.next.map(enc))
                w.element("NextVersionIdMarker", result.nextVersionID)
            }
            w.element("MaxKeys", request.maxKeys)
            w.element("Delimiter", request.delimiter.map(enc))
            if request.encodeURL { w.element("EncodingType", "url") }
            w.element("IsTruncated", result.isTruncated)
            for object in result.objects {
                w.element(object.deleteMarker ? "DeleteMarker" : "Version") { w in
                    w.element("Key", enc(object.key))
                    w.element("VersionId", object.versionID)
                    w.element("IsLatest", object.isLatest)
                    w.element("LastModified", S3Date.iso(object.createdAt))
                    if !object.deleteMarker {
                        w.element("ETag", object.etag)
                        checksumAlgorithms(&w, object.checksums)
                        w.element("Size", object.size)
                        w.element("StorageClass", "STANDARD")
                    }
                    owner(&w, tenant)
                }
            }
            for prefix in result.commonPrefixes {
                w.element("CommonPrefixes") { w in w.element("Prefix", enc(prefix)) }
            }
        }
        return w.bytes
    }

    public static func copyResult(_ object: ObjectVersion, part: Bool) -> [UInt8] {
        var w = XMLWriter()
        w.element(part ? "CopyPartResult" : "CopyObjectResult", namespace: ns) { w in
            w.element("LastModified", S3Date.iso(object.createdAt))
            w.element("ETag", object.etag)
            checksumElements(&w, object.checksums)
        }
        return w.bytes
    }

    public static func initiateMultipart(bucket: String, key: String, uploadID: String) -> [UInt8] {
        var w = XMLWriter()
        w.element("InitiateMultipartUploadResult", namespace: ns) { w in
            w.element("Bucket", bucket)
            w.element("Key", key)
            w.element("UploadId", uploadID)
        }
        return w.bytes
    }

    public static func completeMultipart(location: String, bucket: String, _ object: ObjectVersion) -> [UInt8] {
        var w = XMLWriter()
        w.element("CompleteMultipartUploadResult", namespace: ns) { w in
            w.element("Location", location)
            w.element("Bucket", bucket)
            w.element("Key", object.key)
            w.element("ETag", object.etag)
            checksumElements(&w, object.checksums)
        }
        return w.bytes
    }

    public static func listParts(bucket: String, upload: MultipartUpload, parts: [UploadedPart], maxParts: Int, marker: Int,
                                 isTruncated: Bool, owner tenant: String) -> [UInt8] {
        var w = XMLWriter()
        w.element("ListPartsResult", namespace: ns) { w in
            w.element("Bucket", bucket)
            w.element("Key", upload.key)
            w.element("UploadId", upload.id)
            w.element("PartNumberMarker", marker)
            if let last = parts.last { w.element("NextPartNumberMarker", last.number) }
            w.element("MaxParts", maxParts)
            w.element("IsTruncated", isTruncated)
            if !upload.checksumAlgorithm.isEmpty { w.element("ChecksumAlgorithm", upload.checksumAlgorithm) }
            w.element("Initiator") { w in
                w.element("ID", tenant)
                w.element("DisplayName", tenant)
            }
            owner(&w, tenant)
            w.element("StorageClass", "STANDARD")
            for part in parts {
                w.element("Part") { w in
                    w.element("PartNumber", part.number)
                    w.element("LastModified", S3Date.iso(part.createdAt))
                    w.element("ETag", part.etag)
                    checksumElements(&w, part.checksums)
                    w.element("Size", part.size)
                }
            }
        }
        return w.bytes
    }

    public static func listUploads(bucket: String, uploads: [MultipartUpload], prefix: String, delimiter: String?, commonPrefixes: [String],
                                   maxUploads: Int, keyMarker: String, uploadIDMarker: String, isTruncated: Bool, owner tenant: String) -> [UInt8] {
        var w = XMLWriter()
        w.element("ListMultipartUploadsResult", namespace: ns) { w in
            w.element("Bucket", bucket)
            w.element("KeyMarker", keyMarker)
            w.element("UploadIdMarker", uploadIDMarker)
            if isTruncated, let last = uploads.last {
                w.element("NextKeyMarker", last.key)
                w.element("NextUploadIdMarker", last.id)
            }
            w.element("Prefix", prefix)
            w.element("Delimiter", delimiter)
            w.element("MaxUploads", maxUploads)
            w.element("IsTruncated", isTruncated)
            for upload in uploads {
                w.element("Upload") { w in
                    w.element("Key", upload.key)
                    w.element("UploadId", upload.id)
                    w.element("Initiator") { w in
                        w.element("ID", tenant)
                        w.element("DisplayName", tenant)
                    }
                    owner(&w, tenant)
                    w.element("StorageClass", "STANDARD")
                    w.element("Initiated", S3Date.iso(upload.createdAt))
                    if !upload.checksumAlgorithm.isEmpty { w.element("ChecksumAlgorithm", upload.checksumAlgorithm) }
                }
            }
            for prefix in commonPrefixes {
                w.element("CommonPrefixes") { w in w.element("Prefix", prefix) }
            }
        }
        return w.bytes
    }

    public struct DeleteOutcome: Sendable {
        public var key: String
        public var versionID: String?
        public var deleteMarker: Bool
        public var deleteMarkerVersionID: String?
        public var error: S3Error?
    }

    public static func deleteResult(_ outcomes: [DeleteOutcome], quiet: Bool) -> [UInt8] {
        var w = XMLWriter()
        w.element("DeleteResult", namespace: ns) { w in
            for outcome in outcomes {
                if let error = outcome.error {
                    w.element("Error") { w in
                        w.element("Key", outcome.key)
                        w.element("VersionId", outcome.versionID)
                        w.element("Code", error.code)
                        w.element("Message", error.message)
                    }
                } else if !quiet {
                    w.element("Deleted") { w in
                        w.element("Key", outcome.key)
                        w.element("VersionId", outcome.versionID)
                        if outcome.deleteMarker {
                            w.element("DeleteMarker", true)
                            w.element("DeleteMarkerVersionId", outcome.deleteMarkerVersionID)
                        }
                    }
                }
            }
        }
        return w.bytes
    }

    // MARK: request documents

    public struct CompletedPart: Sendable, Equatable {
        public var number: Int
        public var etag: String
        public var checksums: [String: String]
    }

    public static func parseCompleteMultipart(_ body: [UInt8]) throws -> [CompletedPart] {
        let root = try XMLNode.parse(body)
        guard root.name == "CompleteMultipartUpload" else { throw S3Error.malformedXML }
        let parts = try root.children("Part").map { part -> CompletedPart in
            guard let number = part.value("PartNumber").flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }),
                  let etag = part.value("ETag") else { throw S3Error.malformedXML }
            var checksums: [String: String] = [:]
            for algorithm in ChecksumAlgorithm.allCases {
                if let value = part.value("Checksum\(algorithm.rawValue)") { checksums[algorithm.rawValue] = value }
            }
            return CompletedPart(number: number, etag: etag, checksums: checksums)
        }
        guard !parts.isEmpty else { throw S3Error.malformedXML }
        return parts
    }

    public struct DeleteRequest: Sendable {
        public var objects: [(key: String, versionID: String?)]
        public var quiet: Bool
    }

    public static func parseDelete(_ body: [UInt8]) throws -> DeleteRequest {
        let root = try XMLNode.parse(body)
        guard root.name == "Delete" else { throw S3Error.malformedXML }
        let objects = try root.children("Object").map { object -> (key: String, versionID: String?) in
            guard let key = object.value("Key") else { throw S3Error.malformedXML }
            return (key, object.value("VersionId"))
        }
        guard !objects.isEmpty else { throw S3Error.malformedXML }
        guard objects.count <= 1000 else { throw S3Error.malformedXML }
        return DeleteRequest(objects: objects, quiet: root.value("Quiet")?.lowercased() == "true")
    }

    public static func parseVersioning(_ body: [UInt8]) throws -> VersioningState? {
        let root = try XMLNode.parse(body)
        guard root.name == "VersioningConfiguration" else { throw S3Error.malformedXML }
        switch root.value("Status") {
        case "Enabled": return .enabled
        case "Suspended": return .suspended
        case nil: return nil
        default: throw S3Error.malformedXML
        }
    }

    public static func parseTagging(_ body: [UInt8]) throws -> [String: String] {
        let root = try XMLNode.parse(body)
        guard root.name == "Tagging", let set = root.child("TagSet") else { throw S3Error.malformedXML }
        var tags: [String: String] = [:]
        for tag in set.children("Tag") {
            guard let key = tag.value("Key"), let value = tag.value("Value") else { throw S3Error.malformedXML }
            guard (1...128).contains(key.count), value.count <= 256, tags[key] == nil else { throw S3Error.invalidTag }
            tags[key] = value
        }
        guard tags.count <= 50 else { throw S3Error.invalidTag }
        return tags
    }

    public static func parseLifecycle(_ body: [UInt8]) throws -> [LifecycleRule] {
        let root = try XMLNode.parse(body)
        guard root.name == "LifecycleConfiguration" else { throw S3Error.malformedXML }
        return try root.children("Rule").enumerated().map { index, rule in
            let prefix = rule.child("Filter")?.value("Prefix") ?? rule.child("Filter")?.child("And")?.value("Prefix") ?? rule.value("Prefix") ?? ""
            func days(_ parent: String, _ name: String) throws -> Int? {
                guard let text = rule.child(parent)?.value(name) else { return nil }
                guard let n = Int(text), n > 0 else { throw S3Error.invalidArgument("\(parent).\(name) must be a positive integer") }
                return n
            }
            let status = rule.value("Status")
            guard status == "Enabled" || status == "Disabled" else { throw S3Error.malformedXML }
            return LifecycleRule(id: rule.value("ID") ?? "rule-\(index + 1)", prefix: prefix, enabled: status == "Enabled",
                                 expirationDays: try days("Expiration", "Days"),
                                 noncurrentDays: try days("NoncurrentVersionExpiration", "NoncurrentDays"),
                                 abortIncompleteDays: try days("AbortIncompleteMultipartUpload", "DaysAfterInitiation"))
        }
    }

    /// A canned or grant-based ACL document: Nimbus keeps only "public read or not".
    public static func parseACLPublicRead(_ body: [UInt8]) throws -> Bool {
        let root = try XMLNode.parse(body)
        guard root.name == "AccessControlPolicy" else { throw S3Error.malformedXML }
        let grants = root.child("AccessControlList")?.children("Grant") ?? []
        return grants.contains { grant in
            grant.child("Grantee")?.value("URI") == "http://acs.amazonaws.com/groups/global/AllUsers"
                && ["READ", "FULL_CONTROL"].contains(grant.value("Permission") ?? "")
        }
    }
}

/// Continuation tokens are opaque to clients: the last key, base64.
enum ContinuationToken {
    static func encode(_ key: String) -> String { Data(key.utf8).base64EncodedString() }
    static func decode(_ token: String) throws -> String {
        guard let data = Data(base64Encoded: token), let key = String(data: data, encoding: .utf8) else {
            throw S3Error.invalidArgument("The continuation token provided is incorrect")
        }
        return key
    }
}
