import NimbusPlatform

/// The text of an API key: `nmb_<prefix>_<secret>`. The prefix (12 × [a-z0-9]) is public and
/// finds the row; the secret (32 random bytes, base64url) is shown once and only its SHA-256
/// is stored. A high-entropy secret needs no slow KDF: SHA-256 already makes the stored
/// value useless for logging in.
struct ApiKeyToken: Sendable, Hashable {
    static let scheme = "nmb"
    static let prefixLength = 12
    static let secretLength = 32

    var prefix: String
    var secret: [UInt8]

    var text: String { "\(Self.scheme)_\(prefix)_\(Base64URL.encode(secret))" }

    /// What the database stores for this key's secret.
    var secretHash: [UInt8] { Self.hash(prefix: prefix, secret: secret) }

    static func hash(prefix: String, secret: [UInt8]) -> [UInt8] {
        SHA256.hash(Array("nimbus-api-key-v1:\(prefix):".utf8) + secret)
    }

    static func generate() throws -> ApiKeyToken {
        ApiKeyToken(prefix: try randomPrefix(), secret: try SecureRandom.bytes(secretLength))
    }

    /// A new secret under the same prefix (rotation keeps the key's identity).
    func rotated() throws -> ApiKeyToken {
        ApiKeyToken(prefix: prefix, secret: try SecureRandom.bytes(Self.secretLength))
    }

    /// Parses the text form; nil for anything that is not exactly a Nimbus key.
    init?(parsing text: String) {
        let bytes = Array(text.utf8)
        let head = Self.scheme.utf8.count + 1
        guard bytes.count == head + Self.prefixLength + 1 + 43,
              text.hasPrefix("\(Self.scheme)_"),
              bytes[head + Self.prefixLength] == UInt8(ascii: "_")
        else { return nil }
        let prefixBytes = bytes[head..<(head + Self.prefixLength)]
        guard prefixBytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) }),
              let secret = Base64URL.decode(String(decoding: bytes[(head + Self.prefixLength + 1)...], as: UTF8.self)),
              secret.count == Self.secretLength
        else { return nil }
        self.prefix = String(decoding: prefixBytes, as: UTF8.self)
        self.secret = secret
    }

    init(prefix: String, secret: [UInt8]) {
        self.prefix = prefix
        self.secret = secret
    }

    private static func randomPrefix() throws -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var out: [UInt8] = []
        while out.count < prefixLength {
            // Rejection sampling keeps every character equally likely (252 = 7 × 36).
            for byte in try SecureRandom.bytes(prefixLength * 2) where byte < 252 && out.count < prefixLength {
                out.append(alphabet[Int(byte) % 36])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
