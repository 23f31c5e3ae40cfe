import COpenSSL

enum OpenSSLErrors {
    /// Drains OpenSSL's thread-local error queue into one line, so a failure is reported once
    /// and never leaks into the next operation on this thread.
    static func drain() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "unknown OpenSSL error" : reasons.joined(separator: "; ")
    }

    static func failure(_ operation: String) -> CryptoError {
        CryptoError(.library, operation: operation, detail: drain())
    }
}
