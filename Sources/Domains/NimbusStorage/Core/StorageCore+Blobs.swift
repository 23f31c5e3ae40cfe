import Logging
import Metrics
import Foundation
import NimbusPlatform
import NimbusPostgres

/// A blob written and durable, not yet referenced by a row (its tombstone is committed).
struct WrittenBlob: Sendable {
    var id: String
    var size: Int64
    var md5: [UInt8]
    var checksums: [String: String]
}

/// What a writer promised about the body: Content-MD5 and `x-amz-checksum-*` values (in
/// headers or trailers), and which checksums to compute and keep.
public struct BodyIntegrity: Sendable {
    public var contentMD5: [UInt8]?
    /// Algorithm → base64 value given in a header.
    public var expected: [ChecksumAlgorithm: String]
    /// Algorithms to compute and store (those expected, declared in a trailer or asked for).
    public var algorithms: Set<ChecksumAlgorithm>

    public init(contentMD5: [UInt8]? = nil, expected: [ChecksumAlgorithm: String] = [:], algorithms: Set<ChecksumAlgorithm> = []) {
        self.contentMD5 = contentMD5
        self.expected = expected
        self.algorithms = algorithms.union(expected.keys)
    }
}

extension StorageCore {
    /// Writes a body to a new blob: tombstone committed first (so a crash leaves nothing the
    /// janitor does not find), bytes hashed as they stream, then fsync, rename, directory
    /// fsync. The length and digests are checked before it returns; on any failure the bytes
    /// are removed and nothing refers to them.
    func writeBlob(_ source: ByteSource, integrity: BodyIntegrity, maxSize: Int64) async throws -> WrittenBlob {
        if let expected = source.expectedLength, expected > maxSize { throw S3Error.entityTooLarge }
        let id = Self.newBlobID()
        try await transaction { try await ObjectStore.tombstone($0, [id], grace: grace) }
        let writer: any BlobWriter
        do {
            writer = try await blobs.create(id)
        } catch {
            throw Self.blobFailure(error, logger: logger)
        }
        let hasher = ObjectHasher(integrity.algorithms)
        do {
            while let chunk = try await source.next() {
                hasher.update(chunk)
                guard hasher.count <= maxSize else { throw S3Error.entityTooLarge }
                try await writer.write(chunk)
            }
            if let expected = source.expectedLength, expected != hasher.count { throw S3Error.incompleteBody }
            let (md5, checksums) = hasher.finalize()
            if let contentMD5 = integrity.contentMD5, contentMD5 != md5 { throw S3Error.badDigest }
            var expected = integrity.expected
            for (name, value) in source.trailers() {
                if let algorithm = ChecksumAlgorithm(rawValue: name.lowercased().replacingOccurrences(of: "x-amz-checksum-", with: "").uppercased()) {
                    expected[algorithm] = value
                }
            }
            for (algorithm, value) in expected where checksums[algorithm.rawValue] != value.trimmingCharacters(in: .whitespaces) {
                throw S3Error.checksumMismatch(algorithm.rawValue)
            }
            try await writer.finish()
            metrics.bytesIn.increment(by: Int64(hasher.count))
            return WrittenBlob(id: id, size: hasher.count, md5: md5, checksums: checksums)
        } catch {
            await writer.abandon()
            try? await blobs.delete(id)
            throw Self.blobFailure(error, logger: logger)
        }
    }

    static func blobFailure(_ error: any Error, logger: Logger) -> any Error {
        guard let error = error as? BlobStoreError else { return error }
        switch error.kind {
        case .noSpace:
            logger.warning("data directory full; write refused", metadata: ["error": "\(error.detail)"])
            return S3Error.insufficientStorage
        case .notFound, .io:
            logger.error("blob store failure", metadata: ["error": "\(error.detail)"])
            return S3Error.internalError
        }
    }

    /// Removes a written blob that will not be committed (a failed precondition, a refused
    /// quota); its tombstone stays and is cleared by the janitor.
    func discard(_ blob: WrittenBlob) async {
        try? await blobs.delete(blob.id)
    }
}

