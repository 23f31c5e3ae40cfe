import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

/// What a PUT stores besides the bytes.
public struct ObjectAttributes: Sendable, Equatable {
    /// Standard headers (StoredHeaders.names), lower-case names.
    public var headers: [String: String]
    /// `x-amz-meta-*` without the prefix.
    public var userMetadata: [String: String]

    public init(headers: [String: String] = [:], userMetadata: [String: String] = [:]) {
        self.headers = headers
        self.userMetadata = userMetadata
    }

    /// S3 limits user metadata to 2 KB (names and values, UTF-8).
    func validate() throws {
        let size = userMetadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard size <= 2048 else { throw S3Error.metadataTooLarge }
    }
}

/// The outcome of a delete: the version it removed or the marker it created.
public struct DeleteResult: Sendable, Equatable {
    public var versionID: String?
    public var deleteMarker: Bool
}

/// An object to read: the version, the byte range chosen, and a reader over its blobs.
public struct ObjectRead: Sendable {
    public var object: ObjectVersion
    public var range: ClosedRange<Int64>?
    /// The part served (`partNumber` reads) and the object's part count.
    public var partCount: Int?
}

extension StorageCore {
    static func validateKey(_ key: String) throws {
        guard !key.isEmpty else { throw S3Error.invalidArgument("the object key must not be empty") }
        guard key.utf8.count <= 1024 else { throw S3Error.keyTooLong }
        guard !key.unicodeScalars.contains(where: { $0.value == 0 }) else { throw S3Error.invalidArgument("the object key must not contain U+0000") }
    }

    public func putObject(_ caller: Principal?, bucket name: String, key: String, body: ByteSource, attributes: ObjectAttributes,
                          integrity: BodyIntegrity, conditions: S3Conditions = S3Conditions()) async throws -> ObjectVersion {
        try Self.validateKey(key)
        try attributes.validate()
        let bucket = try await authorize(caller, bucket: name, .write)
        let caller = try Self.tenant(of: caller)
        if !conditions.isEmpty {
            // Checked before the bytes move (cheap refusal) and again under the key lock.
            let current = try await read { try await ObjectStore.latest($0, bucketID: bucket.id, key: key) }
            if let failure = conditions.evaluateWrite(current: Self.writeTarget(current)) { throw failure.with(resource: key) }
        }
        let blob = try await writeBlob(body, integrity: integrity, maxSize: MultipartRules.maximumPutSize)
        let new = ObjectStore.NewVersion(
            versionID: bucket.versioning.newVersionID(), deleteMarker: false, size: blob.size, etag: ETag.single(md5: blob.md5),
            checksums: blob.checksums, headers: attributes.headers, userMetadata: attributes.userMetadata, partSizes: [], blobs: [blob.id])
        do {
            return try await commit(caller, bucket, key: key, new, conditions: conditions)
        } catch {
            await discard(blob)
            throw error
        }
    }

    static func writeTarget(_ current: ObjectVersion?) -> (etag: String, lastModified: Date)? {
        guard let current, !current.deleteMarker else { return nil }
        return (current.etag, current.createdAt)
    }

    /// Makes `new` the key's latest version in one transaction under the key's lock: the
    /// conditions checked against what the key holds at that moment, replaced versions'
    /// blobs queued for the janitor, usage counted, the new blob's tombstone cleared.
    func commit(_ caller: Principal, _ bucket: Bucket, key: String, _ new: ObjectStore.NewVersion, conditions: S3Conditions) async throws -> ObjectVersion {
        try await ensureStorage(tenantID: bucket.tenantID, adding: new.size)
        let (stored, freed) = try await transaction { c -> (ObjectVersion, Int64) in
            try await ObjectStore.lockKey(c, bucketID: bucket.id, key: key)
            if !conditions.isEmpty {
                let current = try await ObjectStore.latest(c, bucketID: bucket.id, key: key)
                if let failure = conditions.evaluateWrite(current: Self.writeTarget(current)) { throw failure.with(resource: key) }
            }
            let (stored, replaced) = try await ObjectStore.putLatest(c, bucketID: bucket.id, key: key, new)
            try await ObjectStore.untombstone(c, new.blobs)
            try await ObjectStore.tombstone(c, replaced.flatMap(\.blobs), grace: grace)
            let freed = replaced.reduce(0) { $0 + $1.size }
            try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: new.size - freed)
            return (stored, freed)
        }
        if freed > new.size { await trimStorage(tenantID: bucket.tenantID) }
        _ = caller
        return stored
    }

    /// The version a read or copy names: the latest (a delete marker → 404 with the marker's
    /// headers), or a specific one (a marker → 405).
    func resolve(_ bucket: Bucket, key: String, versionID: String?) async throws -> ObjectVersion {
        if let versionID {
            guard let version = try await read({ try await ObjectStore.version($0, bucketID: bucket.id, key: key, versionID: versionID) }) else {
                throw (Self.isValidVersionID(versionID) ? S3Error.noSuchVersion : S3Error.invalidArgument("Invalid version id specified")).with(resource: key)
            }
            if version.deleteMarker {
                throw S3Error.methodNotAllowed.with(resource: key).with(header: "x-amz-delete-marker", "true")
                    .with(header: "x-amz-version-id", version.versionID).with(header: "last-modified", S3Date.http(version.createdAt))
            }
            return version
        }
        guard let latest = try await read({ try await ObjectStore.latest($0, bucketID: bucket.id, key: key) }) else {
            throw S3Error.noSuchKey.with(resource: key)
        }
        if latest.deleteMarker {
            throw S3Error.noSuchKey.with(resource: key).with(header: "x-amz-delete-marker", "true").with(header: "x-amz-version-id", latest.versionID)
        }
        return latest
    }

    static func isValidVersionID(_ id: String) -> Bool {
        id == ObjectVersion.nullVersion || (id.count == 32 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
    }

    /// GET/HEAD: the version, conditions (412/304), a range or part. The bytes are read
    /// through `reader(for:)`.
    public func getObject(_ caller: Principal?, bucket name: String, key: String, versionID: String?, conditions: S3Conditions,
                          range rangeHeader: String?, partNumber: Int?) async throws -> ObjectRead {
        let bucket = try await authorize(caller, bucket: name, .read)
        let object = try await resolve(bucket, key: key, versionID: versionID)
        if let failure = conditions.evaluateRead(etag: object.etag, lastModified: object.createdAt) {
            var error = failure.with(resource: key).with(header: "etag", object.etag).with(header: "last-modified", S3Date.http(object.createdAt))
            if object.versionID != ObjectVersion.nullVersion || bucket.versioning != .unversioned { error = error.with(header: "x-amz-version-id", object.versionID) }
            throw error
        }
        if let partNumber {
            let sizes = object.partSizes.isEmpty ? [object.size] : object.partSizes
            guard partNumber >= 1, partNumber <= 10_000 else { throw S3Error.invalidArgument("Part number must be an integer between 1 and 10000, inclusive") }
            guard partNumber <= sizes.count else { throw S3Error.invalidPart.with(resource: key) }
            let start = sizes.prefix(partNumber - 1).reduce(0, +)
            let size = sizes[partNumber - 1]
            return ObjectRead(object: object, range: size == 0 ? nil : start...(start + size - 1), partCount: sizes.count)
        }
        switch try S3Range.resolve(rangeHeader, length: object.size) {
        case .whole: return ObjectRead(object: object, range: nil, partCount: nil)
        case .partial(let range): return ObjectRead(object: object, range: range, partCount: nil)
        }
    }

    /// A reader over the object's blobs as one byte sequence.
    public func reader(for object: ObjectVersion) -> ObjectReader {
        ObjectReader(blobs: blobs, ids: object.blobs, sizes: object.partSizes.isEmpty ? [object.size] : object.partSizes, metrics: metrics)
    }

    public func deleteObject(_ caller: Principal?, bucket name: String, key: String, versionID: String?) async throws -> DeleteResult {
        let bucket = try await authorize(caller, bucket: name, .write)
        let caller = try Self.tenant(of: caller)
        return try await deleteObject(caller, bucket, key: key, versionID: versionID)
    }

    func deleteObject(_ caller: Principal, _ bucket: Bucket, key: String, versionID: String?, audit: Bool = true) async throws -> DeleteResult {
        if let versionID, !Self.isValidVersionID(versionID) { throw S3Error.invalidArgument("Invalid version id specified").with(resource: key) }
        let (result, freed) = try await transaction { c -> (DeleteResult, Int64) in
            try await ObjectStore.lockKey(c, bucketID: bucket.id, key: key)
            if let versionID {
                // A specific version goes for good (S3: no marker), whatever the versioning state.
                guard let version = try await ObjectStore.version(c, bucketID: bucket.id, key: key, versionID: versionID) else {
                    return (DeleteResult(versionID: versionID, deleteMarker: false), 0)
                }
                try await ObjectStore.deleteVersion(c, version)
                try await ObjectStore.tombstone(c, version.blobs, grace: grace)
                try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: -version.size)
                if audit {
                    try await event(caller, "object.delete", "object", "\(bucket.name)/\(key)", ["version_id": versionID]).insert(c)
                }
                return (DeleteResult(versionID: versionID, deleteMarker: version.deleteMarker), version.size)
            }
            switch bucket.versioning {
            case .unversioned:
                guard let latest = try await ObjectStore.latest(c, bucketID: bucket.id, key: key) else { return (DeleteResult(versionID: nil, deleteMarker: false), 0) }
                try await ObjectStore.deleteVersion(c, latest)
                try await ObjectStore.tombstone(c, latest.blobs, grace: grace)
                try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: -latest.size)
                if audit { try await event(caller, "object.delete", "object", "\(bucket.name)/\(key)").insert(c) }
                return (DeleteResult(versionID: nil, deleteMarker: false), latest.size)
            case .enabled, .suspended:
                // A delete marker becomes the latest; suspended buckets' marker is the `null`
                // version and replaces an earlier `null` version.
                let marker = ObjectStore.NewVersion(versionID: bucket.versioning.newVersionID(), deleteMarker: true, size: 0, etag: "",
                                                    checksums: [:], headers: [:], userMetadata: [:], partSizes: [], blobs: [])
                let (stored, replaced) = try await ObjectStore.putLatest(c, bucketID: bucket.id, key: key, marker)
                try await ObjectStore.tombstone(c, replaced.flatMap(\.blobs), grace: grace)
                let freed = replaced.reduce(0) { $0 + $1.size }
                try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: -freed)
                if audit {
                    try await event(caller, "object.delete", "object", "\(bucket.name)/\(key)", ["delete_marker": stored.versionID]).insert(c)
                }
                return (DeleteResult(versionID: stored.versionID, deleteMarker: true), freed)
            }
        }
        if freed > 0 { await trimStorage(tenantID: bucket.tenantID) }
        return result
    }

    public func deleteObjects(_ caller: Principal?, bucket name: String, _ objects: [(key: String, versionID: String?)]) async throws -> [S3Shapes.DeleteOutcome] {
        let bucket = try await authorize(caller, bucket: name, .write)
        let caller = try Self.tenant(of: caller)
        var outcomes: [S3Shapes.DeleteOutcome] = []
        for object in objects {
            do {
                try Self.validateKey(object.key)
                let result = try await deleteObject(caller, bucket, key: object.key, versionID: object.versionID)
                outcomes.append(S3Shapes.DeleteOutcome(
                    key: object.key, versionID: object.versionID ?? (result.deleteMarker ? nil : nil), deleteMarker: result.deleteMarker,
                    deleteMarkerVersionID: result.deleteMarker ? result.versionID : nil, error: nil))
            } catch let error as S3Error {
                outcomes.append(S3Shapes.DeleteOutcome(key: object.key, versionID: object.versionID, deleteMarker: false, deleteMarkerVersionID: nil, error: error))
            }
        }
        return outcomes
    }

    /// Server-side copy: the new version shares the source's blobs (they are immutable), so
    /// no byte moves. `replace`: the request's attributes instead of the source's.
    public func copyObject(_ caller: Principal?, from source: (bucket: String, key: String, versionID: String?), to name: String, key: String,
                           replace: ObjectAttributes?, sourceConditions: S3Conditions, conditions: S3Conditions = S3Conditions()) async throws -> (ObjectVersion, source: ObjectVersion) {
        try Self.validateKey(key)
        try replace?.validate()
        let sourceBucket = try await authorize(caller, bucket: source.bucket, .read)
        let bucket = try await authorize(caller, bucket: name, .write)
        let caller = try Self.tenant(of: caller)
        let object = try await resolve(sourceBucket, key: source.key, versionID: source.versionID)
        if let failure = sourceConditions.evaluateCopySource(etag: object.etag, lastModified: object.createdAt) { throw failure }
        if replace == nil, sourceBucket.id == bucket.id, source.key == key, source.versionID == nil, bucket.versioning == .unversioned {
            throw S3Error.invalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        let attributes = replace ?? ObjectAttributes(headers: object.headers, userMetadata: object.userMetadata)
        let new = ObjectStore.NewVersion(
            versionID: bucket.versioning.newVersionID(), deleteMarker: false, size: object.size, etag: object.etag, checksums: object.checksums,
            headers: attributes.headers, userMetadata: attributes.userMetadata, partSizes: object.partSizes, blobs: object.blobs)
        // The source version must still exist when the copy commits (its blobs would
        // otherwise be on their way out): re-read it under a share lock in the transaction.
        try await ensureStorage(tenantID: bucket.tenantID, adding: new.size)
        let stored = try await transaction { c -> ObjectVersion in
            guard try await c.query("SELECT 1 AS x FROM storage.objects WHERE id = $1::bigint FOR SHARE", object.id).first != nil else {
                throw S3Error.noSuchKey.with(resource: source.key)
            }
            try await ObjectStore.lockKey(c, bucketID: bucket.id, key: key)
            if !conditions.isEmpty {
                let current = try await ObjectStore.latest(c, bucketID: bucket.id, key: key)
                if let failure = conditions.evaluateWrite(current: Self.writeTarget(current)) { throw failure.with(resource: key) }
            }
            let (stored, replaced) = try await ObjectStore.putLatest(c, bucketID: bucket.id, key: key, new)
            try await ObjectStore.tombstone(c, replaced.flatMap(\.blobs).filter { !new.blobs.contains($0) }, grace: grace)
            try await ObjectStore.addUsage(c, tenantID: bucket.tenantID, bytes: new.size - replaced.reduce(0) { $0 + $1.size })
            return stored
        }
        _ = caller
        return (stored, object)
    }
}

/// Reads an object's blobs as one sequence of bytes, in chunks.
public struct ObjectReader: Sendable {
    let blobs: any BlobStore
    let ids: [String]
    let sizes: [Int64]
    let metrics: StorageMetrics

    /// Streams `range` (whole object when nil) to `write` in chunks of `chunkSize`.
    public func stream(_ range: ClosedRange<Int64>?, chunkSize: Int = 1 << 20, _ write: (ArraySlice<UInt8>) async throws -> Void) async throws {
        let total = sizes.reduce(0, +)
        guard total > 0 else { return }
        let wanted = range ?? 0...(total - 1)
        var partStart: Int64 = 0
        for (index, size) in sizes.enumerated() {
            defer { partStart += size }
            let partEnd = partStart + size - 1
            guard size > 0, partEnd >= wanted.lowerBound, partStart <= wanted.upperBound else { continue }
            let reader: any BlobReader
            do {
                reader = try await blobs.open(ids[index])
            } catch {
                throw StorageCore.blobFailure(error, logger: Logger(label: "nimbus-storage"))
            }
            var offset = max(wanted.lowerBound, partStart) - partStart
            let end = min(wanted.upperBound, partEnd) - partStart
            do {
                while offset <= end {
                    let count = Int(min(Int64(chunkSize), end - offset + 1))
                    let chunk = try await reader.read(at: offset, count: count)
                    guard chunk.count == count else { throw BlobStoreError(.io, "blob \(ids[index]) is shorter than recorded") }
                    try await write(chunk[...])
                    metrics.bytesOut.increment(by: Int64(count))
                    offset += Int64(count)
                }
            } catch {
                await reader.close()
                throw error
            }
            await reader.close()
        }
    }
}

