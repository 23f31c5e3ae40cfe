import Foundation
import Logging
import NimbusHTTP
import NimbusPlatform

/// The S3 face: routes a request to its operation, authenticates it, calls the core and
/// writes S3's answer (XML bodies, S3 error codes, `x-amz-request-id` on every answer).
public struct S3Handler: Sendable {
    public struct Settings: Sendable {
        /// Host names under which `<bucket>.<domain>` addresses a bucket (virtual-host style).
        public var baseDomains: [String]
        /// Largest XML request body read (DeleteObjects with 1,000 keys fits).
        public var maxXMLBytes: Int = 2 << 20
        public var region: String = "us-east-1"

        public init(baseDomains: [String] = []) { self.baseDomains = baseDomains }
    }

    let core: StorageCore
    let auth: any S3Authenticating
    let settings: Settings
    let logger: Logger

    public init(core: StorageCore, auth: any S3Authenticating, settings: Settings = Settings(), logger: Logger) {
        self.core = core
        self.auth = auth
        self.settings = settings
        self.logger = logger
    }

    static func requestID() -> String {
        ((try? SecureRandom.bytes(8)) ?? (0..<8).map { _ in UInt8.random(in: 0...255) }).map { String(format: "%02X", $0) }.joined()
    }

    public func handle(_ request: S3HTTPRequest) async -> S3HTTPResponse {
        let requestID = Self.requestID()
        var operation = "Unknown"
        var response: S3HTTPResponse
        do {
            let head = request.head
            var route = try S3Route.resolve(method: head.method, host: head.headers["host"], path: Self.path(head.target),
                                            rawQuery: Self.query(head.target), baseDomains: settings.baseDomains)
            if head.headers["x-amz-copy-source"] != nil {
                if route.operation == .uploadPart { route.operation = .uploadPartCopy }
                if route.operation == .putObject { route.operation = .copyObject }
            }
            operation = route.operation.rawValue
            let authenticated = try await auth.authenticate(head)
            let caller = authenticated.caller
            let body = try authenticated.decodeBody(request.body)
            response = try await dispatch(route, head: head, caller: caller, body: body)
        } catch let error as S3Error {
            response = Self.errorResponse(error, method: request.head.method, requestID: requestID)
        } catch {
            logger.error("S3 request failed", metadata: ["s3.operation": "\(operation)", "error": "\(error)", "request.id": "\(requestID)"])
            response = Self.errorResponse(.internalError, method: request.head.method, requestID: requestID)
        }
        response.headers.replace("x-amz-request-id", requestID)
        response.headers.replace("x-amz-id-2", requestID)
        response.headers.replace("server", "NimbusS3")
        if case .bytes(let bytes) = response.body, response.headers["content-length"] == nil, !(request.head.method == "HEAD") {
            _ = bytes
        }
        core.metrics.request(operation, status: response.status)
        return response
    }

    static func errorResponse(_ error: S3Error, method: String, requestID: String) -> S3HTTPResponse {
        var headers: HTTPHeaders = [:]
        for (name, value) in error.headers { headers.replace(name, value) }
        if error.status == 304 || method == "HEAD" {
            return S3HTTPResponse(status: error.status, headers: headers)
        }
        if error.status == 416 { headers.replace("accept-ranges", "bytes") }
        return .xml(error.status, S3Shapes.error(error, requestID: requestID), headers: headers)
    }

    static func path(_ target: String) -> Substring {
        if let q = target.firstIndex(of: "?") { return target[..<q] }
        return target[...]
    }

    static func query(_ target: String) -> Substring? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: q)...]
    }

    func dispatch(_ route: S3Route, head: S3RequestHead, caller: Principal?, body: ByteSource) async throws -> S3HTTPResponse {
        let bucket = route.bucket ?? ""
        let key = route.key ?? ""
        let q = route.query
        switch route.operation {
        case .listBuckets:
            let buckets = try await core.listBuckets(caller)
            return .xml(200, S3Shapes.listBuckets(buckets, owner: caller?.tenantID ?? ""))
        case .createBucket:
            let xml = try await body.collect(upTo: settings.maxXMLBytes)
            if !xml.isEmpty {
                let root = try XMLNode.parse(xml)
                guard root.name == "CreateBucketConfiguration" else { throw S3Error.malformedXML }
            }
            let acl = head.headers["x-amz-acl"]
            let created = try await core.createBucket(caller, name: bucket, publicRead: acl == "public-read" || acl == "public-read-write")
            return S3HTTPResponse(status: 200, headers: ["location": "/\(created.name)"])
        case .headBucket:
            _ = try await core.headBucket(caller, name: bucket)
            return S3HTTPResponse(status: 200, headers: ["x-amz-bucket-region": settings.region])
        case .deleteBucket:
            try await core.deleteBucket(caller, name: bucket)
            return S3HTTPResponse(status: 204)
        case .getBucketLocation:
            _ = try await core.authorize(caller, bucket: bucket, .read)
            return .xml(200, S3Shapes.location())
        case .getBucketVersioning:
            let b = try await core.authorize(caller, bucket: bucket, .read)
            return .xml(200, S3Shapes.versioning(b.versioning))
        case .putBucketVersioning:
            guard let state = try S3Shapes.parseVersioning(try await body.collect(upTo: settings.maxXMLBytes)) else {
                throw S3Error.illegalVersioningConfiguration
            }
            try await core.setVersioning(caller, bucket: bucket, state)
            return S3HTTPResponse(status: 200)
        case .getBucketTagging:
            let b = try await core.authorize(caller, bucket: bucket, .read)
            guard !b.tags.isEmpty else { throw S3Error.noSuchTagSet.with(resource: bucket) }
            return .xml(200, S3Shapes.tagging(b.tags))
        case .putBucketTagging:
            try await core.setTags(caller, bucket: bucket, try S3Shapes.parseTagging(try await body.collect(upTo: settings.maxXMLBytes)))
            return S3HTTPResponse(status: 204)
        case .deleteBucketTagging:
            try await core.setTags(caller, bucket: bucket, [:])
            return S3HTTPResponse(status: 204)
        case .getBucketAcl:
            let b = try await core.authorize(caller, bucket: bucket, .read)
            return .xml(200, S3Shapes.acl(owner: b.tenantID, publicRead: b.publicRead))
        case .putBucketAcl:
            let publicRead: Bool
            if let canned = head.headers["x-amz-acl"] {
                guard ["private", "public-read"].contains(canned) else { throw S3Error.notImplemented("the canned ACL \(canned)") }
                publicRead = canned == "public-read"
            } else {
                publicRead = try S3Shapes.parseACLPublicRead(try await body.collect(upTo: settings.maxXMLBytes))
            }
            try await core.setPublicRead(caller, bucket: bucket, publicRead)
            return S3HTTPResponse(status: 200)
        case .getBucketPolicy:
            let b = try await core.authorize(caller, bucket: bucket, .manage)
            guard b.publicRead else { throw S3Error.noSuchBucketPolicy.with(resource: bucket) }
            return S3HTTPResponse(status: 200, headers: ["content-type": "application/json"], body: .bytes(Array(BucketPolicy.publicRead(bucket: bucket).utf8)))
        case .putBucketPolicy:
            let document = try await body.collect(upTo: 20 << 10)
            try await core.setPublicRead(caller, bucket: bucket, try BucketPolicy.grantsPublicRead(document, bucket: bucket))
            return S3HTTPResponse(status: 204)
        case .deleteBucketPolicy:
            try await core.setPublicRead(caller, bucket: bucket, false)
            return S3HTTPResponse(status: 204)
        case .getBucketLifecycle:
            let b = try await core.authorize(caller, bucket: bucket, .read)
            guard !b.lifecycle.isEmpty else { throw S3Error.noSuchLifecycle.with(resource: bucket) }
            return .xml(200, S3Shapes.lifecycle(b.lifecycle))
        case .putBucketLifecycle:
            try await core.setLifecycle(caller, bucket: bucket, try S3Shapes.parseLifecycle(try await body.collect(upTo: settings.maxXMLBytes)))
            return S3HTTPResponse(status: 200)
        case .deleteBucketLifecycle:
            try await core.setLifecycle(caller, bucket: bucket, [])
            return S3HTTPResponse(status: 204)
        case .listObjects, .listObjectsV2:
            return try await listObjects(bucket: bucket, q, caller: caller, v2: route.operation == .listObjectsV2)
        case .listObjectVersions:
            return try await listVersions(bucket: bucket, q, caller: caller)
        case .listMultipartUploads:
            let maxUploads = try Self.maxKeys(q["max-uploads"], name: "max-uploads")
            let prefix = q["prefix"] ?? ""
            let (uploads, truncated) = try await core.listUploads(caller, bucket: bucket, prefix: prefix, keyMarker: q["key-marker"],
                                                                  uploadIDMarker: q["upload-id-marker"], maxUploads: maxUploads)
            return .xml(200, S3Shapes.listUploads(bucket: bucket, uploads: uploads, prefix: prefix, delimiter: q["delimiter"], commonPrefixes: [],
                                                  maxUploads: maxUploads, keyMarker: q["key-marker"] ?? "", uploadIDMarker: q["upload-id-marker"] ?? "",
                                                  isTruncated: truncated, owner: caller?.tenantID ?? ""))
        case .deleteObjects:
            // Integrity: Content-MD5 or an x-amz-checksum-* (current SDKs send CRC32), or none.
            let xml = try await readVerified(body, head: head, limit: settings.maxXMLBytes)
            let request = try S3Shapes.parseDelete(xml)
            let outcomes = try await core.deleteObjects(caller, bucket: bucket, request.objects)
            return .xml(200, S3Shapes.deleteResult(outcomes, quiet: request.quiet))
        case .putObject:
            return try await putObject(bucket: bucket, key: key, head: head, caller: caller, body: body)
        case .copyObject:
            return try await copyObject(bucket: bucket, key: key, head: head, caller: caller)
        case .getObject, .headObject:
            return try await getObject(bucket: bucket, key: key, q, head: head, caller: caller, headOnly: route.operation == .headObject)
        case .deleteObject:
            let result = try await core.deleteObject(caller, bucket: bucket, key: key, versionID: q["versionId"])
            var headers: HTTPHeaders = [:]
            if let version = result.versionID { headers.replace("x-amz-version-id", version) }
            if result.deleteMarker { headers.replace("x-amz-delete-marker", "true") }
            return S3HTTPResponse(status: 204, headers: headers)
        case .getObjectAcl:
            let b = try await core.authorize(caller, bucket: bucket, .read)
            _ = try await core.resolve(b, key: key, versionID: q["versionId"])
            return .xml(200, S3Shapes.acl(owner: b.tenantID, publicRead: b.publicRead))
        case .putObjectAcl:
            let canned = head.headers["x-amz-acl"] ?? "private"
            guard canned == "private" else { throw S3Error.notImplemented("object ACLs other than private (use the bucket's public-read setting)") }
            let b = try await core.authorize(caller, bucket: bucket, .write)
            _ = try await core.resolve(b, key: key, versionID: q["versionId"])
            return S3HTTPResponse(status: 200)
        case .getObjectTagging, .putObjectTagging, .deleteObjectTagging:
            throw S3Error.notImplemented("object tagging")
        case .createMultipartUpload:
            let algorithm = try (head.headers["x-amz-checksum-algorithm"]).map { name -> ChecksumAlgorithm in
                guard let algorithm = ChecksumAlgorithm(header: name) else { throw S3Error.invalidRequest("Checksum algorithm \(name) is not supported") }
                return algorithm
            }
            let upload = try await core.createMultipartUpload(caller, bucket: bucket, key: key, attributes: try Self.attributes(head.headers),
                                                              checksumAlgorithm: algorithm)
            var headers: HTTPHeaders = [:]
            if let algorithm { headers.replace("x-amz-checksum-algorithm", algorithm.rawValue) }
            return .xml(200, S3Shapes.initiateMultipart(bucket: bucket, key: key, uploadID: upload.id), headers: headers)
        case .uploadPart:
            guard let uploadID = q["uploadId"], let number = q["partNumber"].flatMap({ Int($0) }) else {
                throw S3Error.invalidArgument("uploadId and partNumber are required")
            }
            let part = try await core.uploadPart(caller, bucket: bucket, key: key, uploadID: uploadID, partNumber: number, body: body,
                                                 integrity: try Self.integrity(head.headers))
            var headers: HTTPHeaders = ["etag": part.etag]
            Self.checksumHeaders(&headers, part.checksums)
            return S3HTTPResponse(status: 200, headers: headers)
        case .uploadPartCopy:
            guard let uploadID = q["uploadId"], let number = q["partNumber"].flatMap({ Int($0) }) else {
                throw S3Error.invalidArgument("uploadId and partNumber are required")
            }
            let source = try Self.copySource(head.headers["x-amz-copy-source"] ?? "")
            let (part, object) = try await core.uploadPartCopy(
                caller, bucket: bucket, key: key, uploadID: uploadID, partNumber: number, source: source,
                range: head.headers["x-amz-copy-source-range"], sourceConditions: S3Conditions(header: { head.headers[$0] }, prefix: "x-amz-copy-source-"))
            var headers: HTTPHeaders = [:]
            if object.versionID != ObjectVersion.nullVersion { headers.replace("x-amz-copy-source-version-id", object.versionID) }
            var result = object
            result.etag = part.etag
            result.createdAt = part.createdAt
            result.checksums = part.checksums
            return .xml(200, S3Shapes.copyResult(result, part: true), headers: headers)
        case .completeMultipartUpload:
            guard let uploadID = q["uploadId"] else { throw S3Error.invalidArgument("uploadId is required") }
            let parts = try S3Shapes.parseCompleteMultipart(try await body.collect(upTo: settings.maxXMLBytes))
            let object = try await core.completeMultipartUpload(caller, bucket: bucket, key: key, uploadID: uploadID, parts: parts,
                                                                conditions: S3Conditions(header: { head.headers[$0] }))
            var headers: HTTPHeaders = [:]
            if object.versionID != ObjectVersion.nullVersion { headers.replace("x-amz-version-id", object.versionID) }
            let location = "/\(bucket)/\(S3Query.urlEncode(key))"
            return .xml(200, S3Shapes.completeMultipart(location: location, bucket: bucket, object), headers: headers)
        case .abortMultipartUpload:
            guard let uploadID = q["uploadId"] else { throw S3Error.invalidArgument("uploadId is required") }
            try await core.abortMultipartUpload(caller, bucket: bucket, key: key, uploadID: uploadID)
            return S3HTTPResponse(status: 204)
        case .listParts:
            guard let uploadID = q["uploadId"] else { throw S3Error.invalidArgument("uploadId is required") }
            let maxParts = try Self.maxKeys(q["max-parts"], name: "max-parts")
            let marker = Int(q["part-number-marker"] ?? "0") ?? 0
            let (upload, parts, truncated) = try await core.listParts(caller, bucket: bucket, key: key, uploadID: uploadID, after: marker, maxParts: maxParts)
            return .xml(200, S3Shapes.listParts(bucket: bucket, upload: upload, parts: parts, maxParts: maxParts, marker: marker,
                                                isTruncated: truncated, owner: upload.tenantID))
        }
    }
}
