/// Envelope encryption for secrets at rest (docs/ARCHITECTURE.md §6): every secret gets its own
/// random data key; the data key is sealed under the key-encryption key (KEK) from config and
/// stored beside the ciphertext. Rotating the KEK rewraps data keys without touching data.
///
/// Encoding (version 1): `0x01 ‖ kekID length (1) ‖ kekID ‖ wrapped DEK (12+32+16) ‖ sealed data (12+n+16)`.
/// The associated data binds a ciphertext to its context (e.g. "databases:<id>:password"), so
/// a ciphertext copied into another row does not decrypt.
public struct EnvelopeCipher: Sendable {
    public let keyID: String
    private let keyEncryptionKey: Secret

    /// `keyEncryptionKey` is 32 bytes, written base64url in config (`Secret`).
    public init(keyID: String = "kek-1", keyEncryptionKey: Secret) throws {
        guard let raw = Base64URL.decode(keyEncryptionKey.reveal()), raw.count == AESGCM.keyLength else {
            throw CryptoError(.invalidInput, operation: "envelope", detail: "the key-encryption key must be 32 bytes, base64url encoded")
        }
        guard !keyID.isEmpty, keyID.utf8.count < 256 else {
            throw CryptoError(.invalidInput, operation: "envelope", detail: "key id must be 1–255 bytes")
        }
        self.keyID = keyID
        self.keyEncryptionKey = keyEncryptionKey
    }

    private var kek: [UInt8] { Base64URL.decode(keyEncryptionKey.reveal()) ?? [] }

    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let dataKey = try SecureRandom.bytes(AESGCM.keyLength)
        let idBytes = Array(keyID.utf8)
        let wrapped = try AESGCM.seal(dataKey, key: kek, authenticating: Array("nimbus-dek:".utf8) + idBytes)
        let sealed = try AESGCM.seal(plaintext, key: dataKey, authenticating: Array(context.utf8))
        return [1, UInt8(idBytes.count)] + idBytes + wrapped.combined + sealed.combined
    }

    public func open(_ envelope: [UInt8], context: String) throws -> [UInt8] {
        let malformed = CryptoError(.invalidInput, operation: "envelope", detail: "malformed envelope")
        guard envelope.count >= 2, envelope[0] == 1 else { throw malformed }
        let idLength = Int(envelope[1])
        let wrappedLength = AESGCM.nonceLength + AESGCM.keyLength + AESGCM.tagLength
        guard envelope.count >= 2 + idLength + wrappedLength + AESGCM.nonceLength + AESGCM.tagLength else { throw malformed }
        let idBytes = Array(envelope[2..<(2 + idLength)])
        guard idBytes == Array(keyID.utf8) else {
            throw CryptoError(.invalidInput, operation: "envelope", detail: "sealed under key '\(String(decoding: idBytes, as: UTF8.self))', not '\(keyID)'")
        }
        let wrapped = try AESGCM.Sealed(combined: Array(envelope[(2 + idLength)..<(2 + idLength + wrappedLength)]))
        let dataKey = try AESGCM.open(wrapped, key: kek, authenticating: Array("nimbus-dek:".utf8) + idBytes)
        let sealed = try AESGCM.Sealed(combined: Array(envelope[(2 + idLength + wrappedLength)...]))
        return try AESGCM.open(sealed, key: dataKey, authenticating: Array(context.utf8))
    }

    /// The id of the key an envelope was sealed under (from its header), nil when malformed:
    /// with several keys during a rotation, this picks the one that opens it.
    public static func keyID(of envelope: [UInt8]) -> String? {
        guard envelope.count >= 2, envelope[0] == 1, envelope.count >= 2 + Int(envelope[1]) else { return nil }
        return String(decoding: envelope[2..<(2 + Int(envelope[1]))], as: UTF8.self)
    }

    /// Convenience for text secrets (passwords, tokens).
    public func seal(_ text: String, context: String) throws -> [UInt8] { try seal(Array(text.utf8), context: context) }
    public func openText(_ envelope: [UInt8], context: String) throws -> String {
        String(decoding: try open(envelope, context: context), as: UTF8.self)
    }
}
