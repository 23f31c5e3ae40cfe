import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

extension StorageCore {
    public func createMultipartUpload(_ caller: Principal?, bucket name: String, key: String, attributes: ObjectAttributes,
                                      checksumAlgorithm: ChecksumAlgorithm?) async throws -> MultipartUpload {
        try Self.validateKey(key)
        try attributes.validate()
        let bucket = try await authorize(caller, bucket: name, .write)
        return try await transaction { c in
            try await ObjectStore.createUpload(c, bucketID: bucket.id, key: key, tenantID: bucket.tenantID, headers: attributes.headers,
                                               userMetadata: attributes.userMetadata, checksumAlgorithm: checksumAlgorithm?.rawValue ?? "")
        }
    }

    func upload(_ bucket: Bucket, key: String, id: String) async throws -> MultipartUpload {
        guard let upload = try await read({ try await ObjectStore.upload($0, id: id, bucketID: bucket.id, key: key) }) else {
            throw S3Error.noSuchUpload.with(resource: key)
        }
        return upload
    }

    static func partNumber(_ number: Int) throws {
        guard (1...MultipartRules.maximumParts).contains(number) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and 10000, inclusive")
        }
    }

    public func uploadPart(_ caller: Principal?, bucket name: String, key: String, uploadID: String, partNumber: Int, body: ByteSource,
                           integrity: BodyIntegrity) async throws -> UploadedPart {
        try Self.partNumber(partNumber)
        let bucket = try await authorize(caller, bucket: name, .write)
        var integrity = integrity
        let upload = try await upload(bucket, key: key, id: uploadID)
        if let algorithm = ChecksumAlgorithm(rawValue: upload.checksumAlgorithm) { integrity.algorithms.insert(algorithm) }
        let blob = try await writeBlob(body, integrity: integrity, maxSize: MultipartRules.maximumPartSize)
        return try await storePart(bucket, upload: upload, number: partNumber, blob)
    }

    func storePart(_ bucket: Bucket, upload: MultipartUpload, number: Int, _ blob: WrittenBlob) async throws -> UploadedPart {
        let part = UploadedPart(number: number, size: blob.size, etag: ETag.single(md5: blob.md5), checksums: blob.checksums, blob: blob.id, createdAt: Date())
        do {
            try await transaction { c in
                guard try await ObjectStore.upload(c, id: upload.id, bucketID: bucket.id, key: upload.key, lock: true) != nil else {
                    throw S3Error.noSuchUpload.with(resource: upload.key)
                }
                if let replaced = try await ObjectStore.putPart(c, uploadID: upload.id, part) {
                    try await ObjectStore.tombstone(c, [replaced], grace: grace)
                }
                try await ObjectStore.untombstone(c, [blob.id])
            }
        } catch {
            await discard(blob)
            throw error
        }
        return part
    }

    /// UploadPartCopy: a range of an existing object copied into a new part blob.
    public func uploadPartCopy(_ caller: Principal?, bucket name: String, key: String, uploadID: String, partNumber: Int,
                               source: (bucket: String, key: String, versionID: String?), range rangeHeader: String?,
                               sourceConditions: S3Conditions) async throws -> (UploadedPart, source: ObjectVersion) {
        try Self.partNumber(partNumber)
        let sourceBucket = try await authorize(caller, bucket: source.bucket, .read)
        let bucket = try await authorize(caller, bucket: name, .write)
        let upload = try await upload(bucket, key: key, id: uploadID)
        let object = try await resolve(sourceBucket, key: source.key, versionID: source.versionID)
        if let failure = sourceConditions.evaluateCopySource(etag: object.etag, lastModified: object.createdAt) { throw failure }
        var range: ClosedRange<Int64>? = nil
        if let rangeHeader {
            // x-amz-copy-source-range must be bytes=first-last within the object.
            guard case .partial(let r) = try S3Range.resolve(rangeHeader, length: object.size), rangeHeader.contains("-"),
                  !rangeHeader.hasPrefix("bytes=-") else {
                throw S3Error.invalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
            }
            range = r
        }
        let reader = reader(for: object)
        // Feed the reader's chunks to the blob writer through a small hand-off.
        let pipe = ChunkPipe()
        let producer = Task {
            do {
                try await reader.stream(range) { chunk in await pipe.put(chunk) }
                await pipe.finish(nil)
            } catch {
                await pipe.finish(error)
            }
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? object.size
        var integrity = BodyIntegrity()
        if let algorithm = ChecksumAlgorithm(rawValue: upload.checksumAlgorithm) { integrity.algorithms.insert(algorithm) }
        let blob: WrittenBlob
        do {
            blob = try await writeBlob(ByteSource(expectedLength: length) { try await pipe.take() }, integrity: integrity, maxSize: MultipartRules.maximumPartSize)
        } catch {
            producer.cancel()
            await pipe.finish(CancellationError())
            throw error
        }
        return (try await storePart(bucket, upload: upload, number: partNumber, blob), object)
    }

    public func listParts(_ caller: Principal?, bucket name: String, key: String, uploadID: String, after: Int, maxParts: Int)
        async throws -> (MultipartUpload, [UploadedPart], isTruncated: Bool) {
        let bucket = try await authorize(caller, bucket: name, .read)
        let upload = try await upload(bucket, key: key, id: uploadID)
        let parts = try await read { try await ObjectStore.parts($0, uploadID: uploadID, after: after, limit: maxParts + 1) }
        return (upload, Array(parts.prefix(maxParts)), parts.count > maxParts)
    }

    public func listUploads(_ caller: Principal?, bucket name: String, prefix: String, keyMarker: String?, uploadIDMarker: String?,
                            maxUploads: Int) async throws -> ([MultipartUpload], isTruncated: Bool) {
        let bucket = try await authorize(caller, bucket: name, .read)
        let uploads = try await read {
            try await ObjectStore.listUploads($0, bucketID: bucket.id, prefix: prefix, afterKey: keyMarker.flatMap { $0.isEmpty ? nil : $0 },
                                              afterID: uploadIDMarker.flatMap { $0.isEmpty ? nil : $0 }, limit: maxUploads + 1)
        }
        return (Array(uploads.prefix(maxUploads)), uploads.count > maxUploads)
    }

    public func abortMultipartUpload(_ caller: Principal?, bucket name: String, key: String, uploadID: String) async throws {
        let bucket = try await authorize(caller, bucket: name, .write)
        try await transaction { c in
            guard try await ObjectStore.upload(c, id: uploadID, bucketID: bucket.id, key: key, lock: true) != nil else {
                throw S3Error.noSuchUpload.with(resource: key)
            }
            let parts = try await ObjectStore.parts(c, uploadID: uploadID)
            try await ObjectStore.deleteUpload(c, id: uploadID)
            try await ObjectStore.tombstone(c, parts.map(\.blob), grace: grace)
        }
    }

    /// Completes an upload: parts validated (order, ETags, checksums, minimum size), then
    /// one transaction makes the object the key's latest version referencing the parts'
    /// blobs in order (no byte is copied) and removes the upload; parts not named go to the
    /// janitor. A crash before the commit leaves the upload as it was.
    public func completeMultipartUpload(_ caller: Principal?, bucket name: String, key: String, uploadID: String,
                                        parts requested: [S3Shapes.CompletedPart], conditions: S3Conditions = S3Conditions(),
                                        minimumPartSize: Int64 = MultipartRules.minimumPartSize) async throws -> ObjectVersion {
        let bucket = try await authorize(caller, bucket: name, .write)
        let caller = try Self.tenant(of: caller)
        let upload = try await upload(bucket, key: key, id: uploadID)
        let uploaded = try await read { try await ObjectStore.parts($0, uploadID: uploadID) }
        let chosen = try MultipartRules.validate(requested, uploaded: Dictionary(uniqueKeysWithValues: uploaded.map { ($0.number, $0) }),
                                                 minimumPartSize: minimumPartSize)
        var checksums: [String: String] = [:]
        if let algorithm = ChecksumAlgorithm(rawValue: upload.checksumAlgorithm) {
            let values = chosen.compactMap { $0.checksums[algorithm.rawValue] }
            if values.count == chosen.count, let composite = ObjectHasher.composite(algorithm, parts: values) { checksums[algorithm.rawValue] = composite }
        }
        let size = chosen.reduce(0) { $0 + $1.size }
        let new = ObjectStore.NewVersion(
            versionID: bucket.versioning.newVersionID(), deleteMarker: false, size: size, etag: ETag.multipart(partETags: chosen.map(\.etag)),
            checksums: checksums, headers: upload.headers, userMetadata: upload.userMetadata, partSizes: chosen.map(\.size), blobs: chosen.map(\.blob))
        try await ensureStorage(tenantID: bucket.tenantID, adding: size)
        let (stored, freed) = try await transaction { c -> (ObjectVersion, Int64) in
            guard try await ObjectStore.upload(c, id: uploadID, bucketID: bucket.id, key: key, lock: true) != nil else {
                throw S3Error.noSuchUpload.with(resource: key)
            }
            // The parts may have changed since validation (a part re-uploaded): validate again.
            let current = try await ObjectStore.parts(c, uploadID: uploadID)
            let again = try MultipartRules.validate(requested, uploaded: Dictionary(uniqueKeysWithValues: current.map { ($0.number, $0) }),
                                                    minimumPartSize: minimumPartSize)
            guard again.map(\.blob) == new.blobs else { throw S3Error.invalidPart }
            try await ObjectStore.lockKey(c, bucketID: bucket.id, key: key)
            if !conditions.isEmpty {
                let latest = try await ObjectStore.latest(c, bucketID: bucket.id, key: key)
                if let failure = conditions.evaluateWrite(current: Self.writeTarget(latest)) { throw failure.with(resource: key) }
            }
            let (stored, replaced) = try await ObjectStore.putLatest(c, bucketID: bucket.id, key: key, new)
            try await ObjectStore.deleteUpload(c, id: uploadID)
            let used = Set(new.blobs)
            try await ObjectStore.tombstone(c, current.map(\.blob).filter { !used.contains($0) } + replaced.flatMap(\.blobs), grace: grace)
            let freed = replaced.reduce(0) { $0 + $1.size }
            try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: size - freed)
            return (stored, freed)
        }
        if freed > size { await trimStorage(tenantID: bucket.tenantID) }
        _ = caller
        return stored
    }
}

/// A one-slot hand-off of chunks from a producer task to a consumer (backpressure: the
/// producer waits until the consumer took the previous chunk).
actor ChunkPipe {
    private var slot: ArraySlice<UInt8>?
    private var finished = false
    private var failure: (any Error)?
    private var consumer: CheckedContinuation<Void, Never>?
    private var producer: CheckedContinuation<Void, Never>?

    func put(_ chunk: ArraySlice<UInt8>) async {
        while slot != nil && !finished {
            await withCheckedContinuation { producer = $0 }
        }
        guard !finished else { return }
        slot = chunk
        consumer?.resume()
        consumer = nil
    }

    func finish(_ error: (any Error)?) {
        guard !finished else { return }
        finished = true
        failure = error
        consumer?.resume()
        consumer = nil
        producer?.resume()
        producer = nil
    }

    func take() async throws -> ArraySlice<UInt8>? {
        while true {
            if let chunk = slot {
                slot = nil
                producer?.resume()
                producer = nil
                return chunk
            }
            if finished {
                if let failure { throw failure }
                return nil
            }
            await withCheckedContinuation { consumer = $0 }
        }
    }
}
