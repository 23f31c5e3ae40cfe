import COpenSSL

/// An incremental MD5, SHA-1 or SHA-256 over OpenSSL's EVP interface, for bodies that arrive
/// in chunks (object uploads hash while they write). One context per digest; not shareable
/// across tasks while in use.
public final class StreamingDigest {
    public enum Algorithm: String, Sendable, CaseIterable {
        case md5 = "MD5", sha1 = "SHA1", sha256 = "SHA256"

        public var byteCount: Int {
            switch self {
            case .md5: 16
            case .sha1: 20
            case .sha256: 32
            }
        }

        /// Fetched once per algorithm (an implicit fetch per context costs a lock each time).
        fileprivate var evpMD: OpaquePointer? {
            switch self {
            case .md5: Fetched.md5.md
            case .sha1: Fetched.sha1.md
            case .sha256: SHA256.evpMD
            }
        }
    }

    private struct Fetched: @unchecked Sendable {  // an EVP_MD is immutable once fetched
        let md: OpaquePointer?
        static let md5 = Fetched(md: EVP_MD_fetch(nil, "MD5", nil) ?? EVP_md5())
        static let sha1 = Fetched(md: EVP_MD_fetch(nil, "SHA1", nil) ?? EVP_sha1())
    }

    public let algorithm: Algorithm
    private let context: OpaquePointer
    private var finished = false

    public init(_ algorithm: Algorithm) {
        self.algorithm = algorithm
        // Allocation failure is the only way these fail: nothing sensible to do then.
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed: \(OpenSSLErrors.drain())") }
        precondition(EVP_DigestInit_ex(context, algorithm.evpMD, nil) == 1, "EVP_DigestInit_ex(\(algorithm)) failed: \(OpenSSLErrors.drain())")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "StreamingDigest updated after finalize")
        guard bytes.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1, "EVP_DigestUpdate failed: \(OpenSSLErrors.drain())")
    }

    public func update<C: ContiguousCollection>(_ bytes: C) where C.Element == UInt8 {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest; the context cannot be used afterwards.
    public func finalize() -> [UInt8] {
        precondition(!finished, "StreamingDigest finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &out, &length) == 1, "EVP_DigestFinal_ex failed: \(OpenSSLErrors.drain())")
        return Array(out.prefix(Int(length)))
    }

    public static func hash<C: ContiguousCollection>(_ algorithm: Algorithm, _ bytes: C) -> [UInt8] where C.Element == UInt8 {
        let digest = StreamingDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }
}

/// Byte containers whose storage is contiguous (`[UInt8]`, `ArraySlice<UInt8>`, `UnsafeRawBufferPointer`).
public protocol ContiguousCollection: Collection {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousCollection {}
extension ArraySlice: ContiguousCollection {}
