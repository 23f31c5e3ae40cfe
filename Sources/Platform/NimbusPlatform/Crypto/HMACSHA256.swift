import COpenSSL

/// HMAC-SHA256 (RFC 2104, test vectors RFC 4231).
public enum HMACSHA256 {
    public static let byteCount = 32

    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        // Empty inputs are legal; a one-byte buffer gives OpenSSL a valid pointer for them.
        let keyBuffer = key.isEmpty ? [0] : key
        let messageBuffer = message.isEmpty ? [0] : message
        let result = keyBuffer.withUnsafeBufferPointer { keyBytes in
            messageBuffer.withUnsafeBufferPointer { messageBytes in
                out.withUnsafeMutableBufferPointer { output in
                    HMAC(SHA256.evpMD, keyBytes.baseAddress, Int32(key.count),
                         messageBytes.baseAddress, message.count, output.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "HMAC-SHA256 failed: \(OpenSSLErrors.drain())")
        return out
    }

    /// Whether `code` is the HMAC of `message` under `key`, compared in constant time.
    public static func isValid(_ code: [UInt8], key: [UInt8], message: [UInt8]) -> Bool {
        ConstantTime.equals(authenticationCode(key: key, message: message), code)
    }
}
