import COpenSSL

/// A hash fed in pieces (a body hashed as it streams): SHA-256, SHA-1 or MD5 through OpenSSL's
/// EVP digests. One owner at a time; `finalize()` ends it (further updates are a programming
/// error). MD5 and SHA-1 are here for S3's ETag and checksum headers, not for security.
public final class IncrementalDigest {
    public enum Algorithm: Sendable, Hashable {
        case sha256, sha1, md5

        public var byteCount: Int {
            switch self {
            case .sha256: 32
            case .sha1: 20
            case .md5: 16
            }
        }

        fileprivate var md: OpaquePointer? {
            switch self {
            case .sha256: SHA256.evpMD
            case .sha1: Self.fetched.sha1
            case .md5: Self.fetched.md5
            }
        }

        /// Fetched once (an implicit fetch per context costs a lookup under a lock).
        private struct Fetched: @unchecked Sendable {  // EVP_MDs are immutable once fetched
            let sha1: OpaquePointer?
            let md5: OpaquePointer?
        }
        private static let fetched = Fetched(sha1: EVP_MD_fetch(nil, "SHA1", nil) ?? EVP_sha1(),
                                             md5: EVP_MD_fetch(nil, "MD5", nil) ?? EVP_md5())
    }

    public let algorithm: Algorithm
    private let context: OpaquePointer
    private var finished = false

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, algorithm.md, nil) == 1 else {
            // Only fails when OpenSSL cannot allocate: nothing sensible to do then.
            preconditionFailure("EVP_DigestInit(\(algorithm)) failed: \(OpenSSLErrors.drain())")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "IncrementalDigest updated after finalize()")
        guard bytes.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        precondition(ok == 1, "EVP_DigestUpdate failed: \(OpenSSLErrors.drain())")
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public func update(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { update($0) } }

    /// The digest of everything fed so far; the digest cannot be fed after this.
    public func finalize() -> [UInt8] {
        precondition(!finished, "IncrementalDigest finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: algorithm.byteCount)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        precondition(ok == 1 && Int(length) == algorithm.byteCount, "EVP_DigestFinal failed: \(OpenSSLErrors.drain())")
        return out
    }

    /// One-shot convenience.
    public static func hash(_ algorithm: Algorithm, _ bytes: [UInt8]) -> [UInt8] {
        let digest = IncrementalDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }
}
