import Foundation
import NimbusPlatform
import NimbusRPCCore

/// Seals an instance's environment (users keep passwords and tokens there) before it reaches
/// compute.instances.env_sealed, and opens it for the engine and for callers allowed to see it.
///
/// One envelope per map (one data key, docs/ARCHITECTURE.md §6): the JSON object with sorted keys,
/// sealed with the associated data `nimbus-compute:instance:<id>:env`, so a ciphertext copied
/// into another instance's row does not open there.
///
/// Key rotation: the new key goes into `NIMBUS_COMPUTE_KEK` and the old one into
/// `NIMBUS_COMPUTE_KEK_PREVIOUS` (several, comma-separated). Envelopes name their key, so old
/// ones still open, and compute re-seals them under the new key when it starts; once every
/// replica has logged that nothing is left under a previous key, the old key can go.
public struct InstanceEnvCipher: Sendable {
    /// The environment variable holding the key-encryption key (base64url, 32 bytes).
    public static let setting = "NIMBUS_COMPUTE_KEK"
    /// Earlier keys, only for opening (comma-separated, same encoding).
    public static let previousSetting = "NIMBUS_COMPUTE_KEK_PREVIOUS"

    /// Seals, and opens what it sealed.
    let envelope: EnvelopeCipher
    /// Open only: envelopes sealed before the last rotation(s).
    let previous: [EnvelopeCipher]

    /// The key id stored in each envelope is derived from the key (a short fingerprint), so an
    /// envelope sealed under another key is recognised as such instead of failing obscurely.
    public init(keyEncryptionKey: Secret, previousKeys: [Secret] = []) throws {
        envelope = try Self.cipher(keyEncryptionKey, setting: Self.setting)
        var previous: [EnvelopeCipher] = []
        for key in previousKeys {
            let cipher = try Self.cipher(key, setting: Self.previousSetting)
            if cipher.keyID != envelope.keyID && !previous.contains(where: { $0.keyID == cipher.keyID }) { previous.append(cipher) }
        }
        self.previous = previous
    }

    private static func cipher(_ key: Secret, setting: String) throws -> EnvelopeCipher {
        guard let raw = Base64URL.decode(key.reveal().trimmingCharacters(in: .whitespacesAndNewlines)), raw.count == 32 else {
            throw ConfigError(setting: setting, problem: "must be 32 random bytes, base64url encoded (e.g. `head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\\n'`)")
        }
        return try EnvelopeCipher(keyID: keyID(raw), keyEncryptionKey: Secret(Base64URL.encode(raw)))
    }

    /// `NIMBUS_COMPUTE_KEK` from the environment: required, no default (a default key would
    /// be a key every installation shares, i.e. plain text with extra steps); and the optional
    /// `NIMBUS_COMPUTE_KEK_PREVIOUS`.
    public static func fromEnvironment(_ source: ConfigSource) throws -> InstanceEnvCipher {
        guard let (value, _) = source.value(flag: nil, env: setting) else {
            throw ConfigError(setting: setting, problem: "is not set; nimbus-compute seals instance environments with it (32 random bytes, base64url)")
        }
        let previous = source.value(flag: nil, env: previousSetting).map { previous, _ in
            previous.split(separator: ",").map { Secret(String($0)) }.filter { !$0.reveal().allSatisfy(\.isWhitespace) }
        } ?? []
        return try InstanceEnvCipher(keyEncryptionKey: Secret(value), previousKeys: previous)
    }

    /// Ids of the keys that only open (what start-up re-seals away from).
    public var previousKeyIDs: [String] { previous.map(\.keyID) }

    /// Sealed under a previous key (and so due for re-sealing under the current one).
    public func isSealedUnderPreviousKey(_ sealed: [UInt8]) -> Bool {
        guard let id = EnvelopeCipher.keyID(of: sealed) else { return false }
        return previous.contains { $0.keyID == id }
    }

    static func keyID(_ raw: [UInt8]) -> String {
        "compute-kek-" + Hex.encode(Array(SHA256.hash(Array("nimbus-compute-kek-id:".utf8) + raw).prefix(4)))
    }

    public var keyID: String { envelope.keyID }

    static func context(instanceID: String) -> String { "nimbus-compute:instance:\(instanceID.lowercased()):env" }

    /// nil for an empty environment: nothing to protect, nothing to decrypt on every read.
    public func seal(_ env: [String: String], instanceID: String) throws -> [UInt8]? {
        guard !env.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try envelope.seal(Array(try encoder.encode(env)), context: Self.context(instanceID: instanceID))
    }

    /// The plain map. Errors name the instance and the key, never a value.
    public func open(_ sealed: [UInt8], instanceID: String) throws -> [String: String] {
        let plain: [UInt8]
        do {
            let id = EnvelopeCipher.keyID(of: sealed)
            let cipher = previous.first { $0.keyID == id } ?? envelope
            plain = try cipher.open(sealed, context: Self.context(instanceID: instanceID))
        } catch let error as CryptoError {
            throw EnvironmentSealError(instanceID: instanceID, detail: error.detail)
        }
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(plain))
        } catch {
            throw EnvironmentSealError(instanceID: instanceID, detail: "the opened environment is not a JSON object of strings")
        }
    }

    /// The environment as stored, opened.
    public func open(_ env: StoredEnvironment, instanceID: String) throws -> [String: String] {
        switch env {
        case .plain(let values): values
        case .sealed(let sealed): try open(sealed, instanceID: instanceID)
        }
    }
}

/// A sealed environment that does not open: a wrong or rotated key, or a ciphertext that does
/// not belong to this instance. Never carries plaintext.
public struct EnvironmentSealError: Error, Sendable, CustomStringConvertible, RPCErrorConvertible {
    public var instanceID: String
    public var detail: String
    public var description: String {
        "the environment of instance \(instanceID) does not open with \(InstanceEnvCipher.setting) or \(InstanceEnvCipher.previousSetting): \(detail)"
    }
    /// The caller learns only that the server cannot read it; the log has the detail.
    public var rpcError: RPCError { RPCError(.internal, "the instance's environment cannot be opened", cause: self) }
}
