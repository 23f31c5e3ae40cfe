import Foundation
import NimbusPlatform
import NimbusRPCCore

/// Seals S3 secret access keys before they reach identity.s3_credentials, and opens them to
/// derive signing keys. One envelope per secret (EnvelopeCipher: a fresh data key wrapped by the
/// KEK), bound to its access key id, so a ciphertext copied into another row does not open.
///
/// The KEK comes from `NIMBUS_IDENTITY_KEK` (32 random bytes, base64url; `make up` generates
/// it); earlier keys from `NIMBUS_IDENTITY_KEK_PREVIOUS` (comma-separated) still open. Without
/// the setting identity runs, but refuses to mint S3 credentials or to derive signing keys.
struct S3SecretCipher: Sendable {
    static let setting = "NIMBUS_IDENTITY_KEK"
    static let previousSetting = "NIMBUS_IDENTITY_KEK_PREVIOUS"

    private let current: EnvelopeCipher
    private let previous: [EnvelopeCipher]

    init(keyEncryptionKey: Secret, previousKeys: [Secret] = []) throws {
        current = try Self.cipher(keyEncryptionKey, setting: Self.setting)
        var previous: [EnvelopeCipher] = []
        for key in previousKeys {
            let cipher = try Self.cipher(key, setting: Self.previousSetting)
            if cipher.keyID != current.keyID && !previous.contains(where: { $0.keyID == cipher.keyID }) { previous.append(cipher) }
        }
        self.previous = previous
    }

    /// Nil when `NIMBUS_IDENTITY_KEK` is unset (S3 credentials then unavailable); throws on a
    /// malformed key, naming the setting and never the value.
    static func fromEnvironment(_ source: ConfigSource) throws -> S3SecretCipher? {
        guard let (value, _) = source.value(flag: nil, env: setting), !value.allSatisfy(\.isWhitespace) else { return nil }
        let previous = source.value(flag: nil, env: previousSetting).map { text, _ in
            text.split(separator: ",").map { Secret(String($0)) }.filter { !$0.reveal().allSatisfy(\.isWhitespace) }
        } ?? []
        return try S3SecretCipher(keyEncryptionKey: Secret(value), previousKeys: previous)
    }

    private static func cipher(_ key: Secret, setting: String) throws -> EnvelopeCipher {
        guard let raw = Base64URL.decode(key.reveal().trimmingCharacters(in: .whitespacesAndNewlines)), raw.count == 32 else {
            throw ConfigError(setting: setting, problem: "must be 32 random bytes, base64url encoded (e.g. `head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\\n'`)")
        }
        let id = "identity-kek-" + Hex.encode(Array(SHA256.hash(Array("nimbus-identity-kek-id:".utf8) + raw).prefix(4)))
        return try EnvelopeCipher(keyID: id, keyEncryptionKey: Secret(Base64URL.encode(raw)))
    }

    private static func context(_ accessKeyID: String) -> String { "nimbus-identity:s3:\(accessKeyID)" }

    func seal(_ secret: Secret, accessKeyID: String) throws -> [UInt8] {
        try current.seal(Array(secret.reveal().utf8), context: Self.context(accessKeyID))
    }

    /// The secret; errors name the access key, never a value.
    func open(_ sealed: [UInt8], accessKeyID: String) throws -> Secret {
        let id = EnvelopeCipher.keyID(of: sealed)
        let cipher = previous.first { $0.keyID == id } ?? current
        do {
            return Secret(String(decoding: try cipher.open(sealed, context: Self.context(accessKeyID)), as: UTF8.self))
        } catch {
            throw IdentityError(.internal, "the S3 secret of \(accessKeyID) does not open with \(Self.setting) or \(Self.previousSetting)")
        }
    }
}
