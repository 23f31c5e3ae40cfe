import COpenSSL

/// Comparison whose duration does not depend on where two secrets differ.
public enum ConstantTime {
    /// True when both have the same bytes. Lengths are not secret (hashes and MACs have fixed
    /// lengths), so a length mismatch answers at once; equal lengths go through CRYPTO_memcmp.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 }
        }
    }
}
