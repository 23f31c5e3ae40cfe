/// A cryptographic operation that failed. Carries the operation's name and OpenSSL's
/// reason text (never key material or plaintext).
public struct CryptoError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Hashable {
        /// OpenSSL reported a failure (out of memory, unsupported parameters, …).
        case library
        /// Input that cannot be processed: a wrong key length, a malformed encoding.
        case invalidInput
        /// Authenticated decryption failed: wrong key, or the data or tag were altered.
        case authenticationFailed
    }

    public var code: Code
    public var operation: String
    public var detail: String

    public init(_ code: Code, operation: String, detail: String) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    public var description: String { "\(operation): \(detail)" }
}
