import CNimbusShims

/// Password hashing with scrypt (RFC 7914) through OpenSSL's EVP_KDF "SCRYPT". The result is a
/// PHC-style string that carries everything verification needs, so parameters can be raised
/// later without invalidating stored hashes:
///
///     $scrypt$ln=15,r=8,p=1$<salt, base64 unpadded>$<hash, base64 unpadded>
public struct PasswordHasher: Sendable {
    /// scrypt cost parameters: N = 2^logN, block size r, parallelism p.
    public struct Parameters: Sendable, Hashable {
        public var logN: Int
        public var r: Int
        public var p: Int
        public var saltLength: Int
        public var hashLength: Int

        public init(logN: Int, r: Int, p: Int, saltLength: Int = 16, hashLength: Int = 32) {
            self.logN = logN
            self.r = r
            self.p = p
            self.saltLength = saltLength
            self.hashLength = hashLength
        }

        /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash.
        public static let production = Parameters(logN: 15, r: 8, p: 1)
        /// Cheap parameters for tests only; `init(parameters:)` refuses them unless
        /// `allowWeak` is set, so they cannot reach a production configuration by accident.
        public static let testing = Parameters(logN: 10, r: 8, p: 1)

        /// Bytes scrypt needs: 128 · r · N · p for the working area plus 128 · r · N for V.
        var memoryBytes: UInt64 { 128 * UInt64(r) * (UInt64(1) << UInt64(logN)) * UInt64(p + 1) + 1 << 20 }

        func validate(allowWeak: Bool) throws {
            let minimumLogN = allowWeak ? 1 : 14
            guard (minimumLogN...22).contains(logN), (1...32).contains(r), (1...16).contains(p),
                  (16...64).contains(saltLength), (16...64).contains(hashLength)
            else {
                throw CryptoError(.invalidInput, operation: "scrypt", detail: "parameters ln=\(logN),r=\(r),p=\(p) are out of range")
            }
        }
    }

    public let parameters: Parameters

    public init(parameters: Parameters = .production, allowWeak: Bool = false) throws {
        try parameters.validate(allowWeak: allowWeak)
        self.parameters = parameters
    }

    /// Hashes `password` with a fresh random salt.
    public func hash(_ password: String) throws -> String {
        let salt = try SecureRandom.bytes(parameters.saltLength)
        let derived = try Self.scrypt(password: Array(password.utf8), salt: salt, logN: parameters.logN,
                                      r: parameters.r, p: parameters.p, length: parameters.hashLength)
        return "$scrypt$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$\(Base64Unpadded.encode(salt))$\(Base64Unpadded.encode(derived))"
    }

    /// Whether `password` matches `encoded`. A malformed encoding is an error, not a mismatch,
    /// so corrupt rows are noticed. Parameters come from the encoding (any strength accepted).
    public func verify(_ password: String, against encoded: String) throws -> Bool {
        let stored = try Self.parse(encoded)
        let derived = try Self.scrypt(password: Array(password.utf8), salt: stored.salt, logN: stored.parameters.logN,
                                      r: stored.parameters.r, p: stored.parameters.p, length: stored.hash.count)
        return ConstantTime.equals(derived, stored.hash)
    }

    /// True when `encoded` was made with weaker parameters than this hasher's: rehash at login.
    public func needsRehash(_ encoded: String) -> Bool {
        guard let stored = try? Self.parse(encoded) else { return true }
        let mine = parameters
        return stored.parameters.logN < mine.logN || stored.parameters.r < mine.r || stored.parameters.p < mine.p
    }

    struct Stored {
        var parameters: Parameters
        var salt: [UInt8]
        var hash: [UInt8]
    }

    static func parse(_ encoded: String) throws -> Stored {
        let malformed = CryptoError(.invalidInput, operation: "scrypt", detail: "malformed password hash encoding")
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { throw malformed }
        var values: [Substring: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let value = Int(kv[1]) else { throw malformed }
            values[kv[0]] = value
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"],
              let salt = Base64Unpadded.decode(String(parts[3])), let hash = Base64Unpadded.decode(String(parts[4]))
        else { throw malformed }
        let parameters = Parameters(logN: logN, r: r, p: p, saltLength: salt.count, hashLength: hash.count)
        try parameters.validate(allowWeak: true)
        return Stored(parameters: parameters, salt: salt, hash: hash)
    }

    /// Raw scrypt (RFC 7914) with N = 2^logN.
    public static func scrypt(password: [UInt8], salt: [UInt8], logN: Int, r: Int, p: Int, length: Int) throws -> [UInt8] {
        guard (1...30).contains(logN), r > 0, p > 0, length > 0 else {
            throw CryptoError(.invalidInput, operation: "scrypt", detail: "invalid parameters")
        }
        let parameters = Parameters(logN: logN, r: r, p: p)
        var out = [UInt8](repeating: 0, count: length)
        let ok = password.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    CNimbusShims_scrypt(pw.baseAddress, pw.count, s.baseAddress, s.count,
                                        UInt64(1) << UInt64(logN), UInt32(r), UInt32(p), parameters.memoryBytes,
                                        o.baseAddress, o.count)
                }
            }
        }
        guard ok == 1 else { throw OpenSSLErrors.failure("scrypt") }
        return out
    }
}
