import Foundation
import NimbusPlatform
import NimbusRPCCore

/// Seals an instance's environment (users keep passwords and tokens there) before it reaches
/// compute.instances.env_sealed, and opens it for the engine and for callers allowed to see it.
///
/// One envelope per map (one data key, ARCHITECTURE.md §5): the JSON object with sorted keys,
/// sealed with the associated data `nimbus-compute:instance:<id>:env`, so a ciphertext copied
/// into another instance's row does not open there.
public struct InstanceEnvCipher: Sendable {
    /// The environment variable holding the key-encryption key (base64url, 32 bytes).
    public static let setting = "NIMBUS_COMPUTE_KEK"

    let envelope: EnvelopeCipher

    /// The key id stored in each envelope is derived from the key (a short fingerprint), so an
    /// envelope sealed under another key is recognised as such instead of failing obscurely.
    public init(keyEncryptionKey: Secret) throws {
        guard let raw = Base64URL.decode(keyEncryptionKey.reveal().trimmingCharacters(in: .whitespacesAndNewlines)),
              raw.count == 32 else {
            throw ConfigError(setting: Self.setting, problem: "must be 32 random bytes, base64url encoded (e.g. `head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\\n'`)")
        }
        envelope = try EnvelopeCipher(keyID: Self.keyID(raw), keyEncryptionKey: Secret(Base64URL.encode(raw)))
    }

    /// `NIMBUS_COMPUTE_KEK` from the environment: required, no default (a default key would
    /// be a key every installation shares, i.e. plain text with extra steps).
    public static func fromEnvironment(_ source: ConfigSource) throws -> InstanceEnvCipher {
        guard let (value, _) = source.value(flag: nil, env: setting) else {
            throw ConfigError(setting: setting, problem: "is not set; nimbus-compute seals instance environments with it (32 random bytes, base64url)")
        }
        return try InstanceEnvCipher(keyEncryptionKey: Secret(value))
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
            plain = try envelope.open(sealed, context: Self.context(instanceID: instanceID))
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
    public var description: String { "the environment of instance \(instanceID) does not open with \(InstanceEnvCipher.setting): \(detail)" }
    /// The caller learns only that the server cannot read it; the log has the detail.
    public var rpcError: RPCError { RPCError(.internal, "the instance's environment cannot be opened", cause: self) }
}
