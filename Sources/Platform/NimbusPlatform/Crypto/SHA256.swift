import COpenSSL

/// SHA-256 (FIPS 180-4).
public enum SHA256 {
    public static let byteCount = 32

    /// Fetched once: with OpenSSL 3, `EVP_sha256()` makes every digest look the algorithm up
    /// again (an implicit fetch under a lock, ~3 % of the gateway's CPU per request).
    private struct Algorithm: @unchecked Sendable {  // an EVP_MD is immutable once fetched
        let md: OpaquePointer?
    }
    private static let algorithm = Algorithm(md: EVP_MD_fetch(nil, "SHA256", nil))
    /// The fetched algorithm, for HMAC too.
    static var evpMD: OpaquePointer? { algorithm.md ?? EVP_sha256() }

    public static func hash(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, evpMD, nil)
            }
        }
        // Only fails when OpenSSL cannot allocate a context: nothing sensible to do then.
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed: \(OpenSSLErrors.drain())")
        return out
    }

    public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }
}
