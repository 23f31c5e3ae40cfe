import COpenSSL
import NimbusEventLoop

/// A TLS failure: what we were doing and OpenSSL's error queue, oldest first.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reasons: [String]

    public init(operation: String, reasons: [String]) {
        self.operation = operation
        self.reasons = reasons
    }

    /// Drains OpenSSL's thread-local error queue into an error.
    static func drain(_ operation: String) -> TLSError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(cBuffer: buffer))
        }
        return TLSError(operation: operation, reasons: reasons)
    }

    public var description: String {
        reasons.isEmpty ? "TLS \(operation) failed" : "TLS \(operation) failed: \(reasons.joined(separator: "; "))"
    }
}
