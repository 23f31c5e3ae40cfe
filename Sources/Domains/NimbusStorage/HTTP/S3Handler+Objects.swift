import Foundation
import NimbusHTTP
import NimbusPlatform

extension S3Handler {
    /// Standard headers and `x-amz-meta-*` of a PUT, copy (REPLACE) or multipart create.
    static func attributes(_ headers: HTTPHeaders) throws -> ObjectAttributes {
        var stored: [String: String] = [:]
        var meta: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            if StoredHeaders.names.contains(lower) {
                stored[lower] = value
            } else if lower.hasPrefix("x-amz-meta-") {
                let metaName = String(lower.dropFirst("x-amz-meta-".count))
                // Several headers of one name are joined, as HTTP folds them.
                meta[metaName] = meta[metaName].map { "\($0),\(value)" } ?? value
            }
        }
        if let storageClass = headers["x-amz-storage-class"], !["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "INTELLIGENT_TIERING"].contains(storageClass) {
            throw S3Error.invalidStorageClass
        }
        return ObjectAttributes(headers: stored, userMetadata: meta)
    }

    /// Content-MD5 and checksum headers; the algorithms to compute (`x-amz-sdk-checksum-algorithm`,
    /// `x-amz-checksum-algorithm`, a declared `x-amz-trailer`).
    static func integrity(_ headers: HTTPHeaders) throws -> BodyIntegrity {
        var integrity = BodyIntegrity()
        if let md5 = headers["content-md5"] {
            guard let bytes = Data(base64Encoded: md5.trimmingCharacters(in: .whitespaces)), bytes.count == 16 else { throw S3Error.invalidDigest }
            integrity.contentMD5 = Array(bytes)
        }
        for algorithm in ChecksumAlgorithm.allCases {
            if let value = headers[algorithm.headerName] {
                guard let bytes = Data(base64Encoded: value.trimmingCharacters(in: .whitespaces)), bytes.count == algorithm.byteCount else {
                    throw S3Error.invalidRequest("Value for \(algorithm.headerName) header is invalid.")
                }
                integrity.expected[algorithm] = value.trimmingCharacters(in: .whitespaces)
                integrity.algorithms.insert(algorithm)
            }
        }
        for name in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
            if let value = headers[name] {
                guard let algorithm = ChecksumAlgorithm(header: value) else { throw S3Error.invalidRequest("Checksum algorithm \(value) is not supported") }
                integrity.algorithms.insert(algorithm)
            }
        }
        if let trailer = headers["x-amz-trailer"] {
            for name in trailer.split(separator: ",") {
                let lower = name.trimmingCharacters(in: .whitespaces).lowercased()
                if lower.hasPrefix("x-amz-checksum-"), let algorithm = ChecksumAlgorithm(header: String(lower.dropFirst("x-amz-checksum-".count))) {
                    integrity.algorithms.insert(algorithm)
                }
            }
        }
        return integrity
    }

    static func checksumHeaders(_ headers: inout HTTPHeaders, _ checksums: [String: String]) {
        for algorithm in ChecksumAlgorithm.allCases {
            if let value = checksums[algorithm.rawValue] { headers.replace(algorithm.headerName, value) }
        }
    }

    /// A small body (DeleteObjects) checked against Content-MD5 or any checksum header.
    func readVerified(_ body: ByteSource, head: S3RequestHead, limit: Int) async throws -> [UInt8] {
        let bytes = try await body.collect(upTo: limit)
        let integrity = try Self.integrity(head.headers)
        let hasher = ObjectHasher(integrity.algorithms)
        hasher.update(bytes)
        let (md5, checksums) = hasher.finalize()
        if let expected = integrity.contentMD5, expected != md5 { throw S3Error.badDigest }
        var expected = integrity.expected
        for (name, value) in body.trailers() {
            if let algorithm = ChecksumAlgorithm(header: name.lowercased().replacingOccurrences(of: "x-amz-checksum-", with: "")) { expected[algorithm] = value }
        }
        for (algorithm, value) in expected where checksums[algorithm.rawValue] != value { throw S3Error.checksumMismatch(algorithm.rawValue) }
        return bytes
    }

    func putObject(bucket: String, key: String, head: S3RequestHead, caller: Principal?, body: ByteSource) async throws -> S3HTTPResponse {
        if body.expectedLength == nil && head.headers["transfer-encoding"] == nil && head.headers["x-amz-decoded-content-length"] == nil
            && head.headers["content-length"] == nil {
            throw S3Error.missingContentLength
        }
        let object = try await core.putObject(caller, bucket: bucket, key: key, body: body, attributes: try Self.attributes(head.headers),
                                              integrity: try Self.integrity(head.headers), conditions: S3Conditions(header: { head.headers[$0] }))
        var headers: HTTPHeaders = ["etag": object.etag]
        if object.versionID != ObjectVersion.nullVersion { headers.replace("x-amz-version-id", object.versionID) }
        Self.checksumHeaders(&headers, object.checksums)
        return S3HTTPResponse(status: 200, headers: headers)
    }

    /// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, optionally `?versionId=`.
    static func copySource(_ header: String) throws -> (bucket: String, key: String, versionID: String?) {
        var text = Substring(header)
        var versionID: String?
        if let q = text.firstIndex(of: "?") {
            let query = S3Query(text[text.index(after: q)...])
            versionID = query["versionId"]
            text = text[..<q]
        }
        let decoded = try S3Query.percentDecode(text, plusIsSpace: false)
        let path = decoded.hasPrefix("/") ? decoded.dropFirst() : decoded[...]
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
        }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]), versionID)
    }

    func copyObject(bucket: String, key: String, head: S3RequestHead, caller: Principal?) async throws -> S3HTTPResponse {
        let source = try Self.copySource(head.headers["x-amz-copy-source"] ?? "")
        let directive = head.headers["x-amz-metadata-directive"]?.uppercased() ?? "COPY"
        guard directive == "COPY" || directive == "REPLACE" else { throw S3Error.invalidArgument("Unknown metadata directive.") }
        let (object, sourceObject) = try await core.copyObject(
            caller, from: source, to: bucket, key: key, replace: directive == "REPLACE" ? try Self.attributes(head.headers) : nil,
            sourceConditions: S3Conditions(header: { head.headers[$0] }, prefix: "x-amz-copy-source-"),
            conditions: S3Conditions(ifMatch: head.headers["if-match"], ifNoneMatch: head.headers["if-none-match"]))
        var headers: HTTPHeaders = [:]
        if object.versionID != ObjectVersion.nullVersion { headers.replace("x-amz-version-id", object.versionID) }
        if sourceObject.versionID != ObjectVersion.nullVersion { headers.replace("x-amz-copy-source-version-id", sourceObject.versionID) }
        return .xml(200, S3Shapes.copyResult(object, part: false), headers: headers)
    }

    func getObject(bucket: String, key: String, _ q: S3Query, head: S3RequestHead, caller: Principal?, headOnly: Bool) async throws -> S3HTTPResponse {
        let partNumber = try q["partNumber"].map { text -> Int in
            guard let n = Int(text) else { throw S3Error.invalidArgument("Part number must be an integer between 1 and 10000, inclusive") }
            return n
        }
        let read = try await core.getObject(caller, bucket: bucket, key: key, versionID: q["versionId"],
                                            conditions: S3Conditions(header: { head.headers[$0] }), range: head.headers["range"], partNumber: partNumber)
        let object = read.object
        var headers: HTTPHeaders = [
            "etag": object.etag, "last-modified": S3Date.http(object.createdAt), "accept-ranges": "bytes",
            "content-type": object.headers["content-type"] ?? "binary/octet-stream",
        ]
        for name in StoredHeaders.names where name != "content-type" {
            if let value = object.headers[name] { headers.replace(name, value) }
        }
        for (name, value) in object.userMetadata.sorted(by: { $0.key < $1.key }) { headers.add("x-amz-meta-\(name)", value) }
        if object.versionID != ObjectVersion.nullVersion || q["versionId"] != nil { headers.replace("x-amz-version-id", object.versionID) }
        if head.headers["x-amz-checksum-mode"]?.uppercased() == "ENABLED", read.range == nil || read.partCount != nil {
            Self.checksumHeaders(&headers, object.checksums)
            if object.checksums.values.contains(where: { $0.contains("-") }) { headers.replace("x-amz-checksum-type", "COMPOSITE") }
        }
        if let parts = read.partCount { headers.replace("x-amz-mp-parts-count", String(parts)) }
        else if !object.partSizes.isEmpty { headers.replace("x-amz-mp-parts-count", String(object.partSizes.count)) }
        // response-* query parameters override the stored headers (presigned downloads).
        for (parameter, header) in [("response-content-type", "content-type"), ("response-content-language", "content-language"),
                                    ("response-expires", "expires"), ("response-cache-control", "cache-control"),
                                    ("response-content-disposition", "content-disposition"), ("response-content-encoding", "content-encoding")] {
            if let value = q[parameter] { headers.replace(header, value) }
        }
        var status = 200
        var length = object.size
        if let range = read.range {
            // A partNumber read of a single-part object is the whole object: 200, no Content-Range
            // only when the object has no parts and asks for part 1; S3 answers 206 for parts.
            status = 206
            length = range.upperBound - range.lowerBound + 1
            headers.replace("content-range", "bytes \(range.lowerBound)-\(range.upperBound)/\(object.size)")
        }
        headers.replace("content-length", String(length))
        if headOnly { return S3HTTPResponse(status: status, headers: headers, body: .bytes([])) }
        let reader = core.reader(for: object)
        let range = read.range
        return S3HTTPResponse(status: status, headers: headers, body: .stream(length: length) { write in
            try await reader.stream(range) { chunk in try await write(chunk) }
        })
    }

    static func maxKeys(_ text: String?, name: String = "max-keys") throws -> Int {
        guard let text else { return 1000 }
        guard let n = Int(text), n >= 0 else { throw S3Error.invalidArgument("Provided \(name) not an integer or within integer range") }
        return min(n, 1000)
    }

    func listObjects(bucket: String, _ q: S3Query, caller: Principal?, v2: Bool) async throws -> S3HTTPResponse {
        let maxKeys = try Self.maxKeys(q["max-keys"])
        if let encoding = q["encoding-type"], encoding != "url" { throw S3Error.invalidArgument("Invalid Encoding Method specified in Request") }
        let delimiter = q["delimiter"].flatMap { $0.isEmpty ? nil : $0 }
        var request = S3Shapes.ListRequest(prefix: q["prefix"] ?? "", delimiter: delimiter, maxKeys: maxKeys, encodeURL: q["encoding-type"] == "url")
        let after: String?
        if v2 {
            request.startAfter = q["start-after"]
            request.continuationToken = q["continuation-token"]
            request.fetchOwner = q["fetch-owner"] == "true"
            if let token = request.continuationToken {
                guard !token.isEmpty else { throw S3Error.invalidArgument("The continuation token provided is incorrect") }
                after = try ContinuationToken.decode(token)
            } else {
                after = request.startAfter.flatMap { $0.isEmpty ? nil : $0 }
            }
        } else {
            request.marker = q["marker"]
            after = request.marker.flatMap { $0.isEmpty ? nil : $0 }
        }
        let result = try await core.listObjects(caller, bucket: bucket, prefix: request.prefix, delimiter: delimiter, after: after, maxKeys: maxKeys)
        let owner = try await core.authorize(caller, bucket: bucket, .read).tenantID
        return .xml(200, S3Shapes.listObjects(bucket: bucket, owner: owner, request, result, v2: v2))
    }

    func listVersions(bucket: String, _ q: S3Query, caller: Principal?) async throws -> S3HTTPResponse {
        let maxKeys = try Self.maxKeys(q["max-keys"])
        let delimiter = q["delimiter"].flatMap { $0.isEmpty ? nil : $0 }
        var request = S3Shapes.ListRequest(prefix: q["prefix"] ?? "", delimiter: delimiter, maxKeys: maxKeys, encodeURL: q["encoding-type"] == "url")
        request.keyMarker = q["key-marker"]
        request.versionIDMarker = q["version-id-marker"]
        let result = try await core.listVersions(caller, bucket: bucket, prefix: request.prefix, delimiter: delimiter,
                                                 keyMarker: request.keyMarker.flatMap { $0.isEmpty ? nil : $0 },
                                                 versionIDMarker: request.versionIDMarker, maxKeys: maxKeys)
        let owner = try await core.authorize(caller, bucket: bucket, .read).tenantID
        return .xml(200, S3Shapes.listVersions(bucket: bucket, owner: owner, request, result))
    }
}
