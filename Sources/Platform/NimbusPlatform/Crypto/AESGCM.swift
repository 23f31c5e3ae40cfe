import CNimbusShims

/// AES-256-GCM authenticated encryption (NIST SP 800-38D) with 96-bit nonces and 128-bit tags.
public enum AESGCM {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    public struct Sealed: Sendable, Hashable {
        public var nonce: [UInt8]
        public var ciphertext: [UInt8]
        public var tag: [UInt8]

        public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
            self.tag = tag
        }

        /// nonce ‖ ciphertext ‖ tag.
        public var combined: [UInt8] { nonce + ciphertext + tag }

        public init(combined: [UInt8]) throws {
            guard combined.count >= AESGCM.nonceLength + AESGCM.tagLength else {
                throw CryptoError(.invalidInput, operation: "AES-256-GCM", detail: "sealed box is too short")
            }
            nonce = Array(combined.prefix(AESGCM.nonceLength))
            ciphertext = Array(combined.dropFirst(AESGCM.nonceLength).dropLast(AESGCM.tagLength))
            tag = Array(combined.suffix(AESGCM.tagLength))
        }
    }

    /// Encrypts with a fresh random nonce unless one is given (tests use known nonces; a
    /// nonce must never repeat under one key).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8]? = nil, authenticating aad: [UInt8] = []) throws -> Sealed {
        guard key.count == keyLength else {
            throw CryptoError(.invalidInput, operation: "AES-256-GCM", detail: "key must be \(keyLength) bytes")
        }
        let nonce = try nonce ?? SecureRandom.bytes(nonceLength)
        guard nonce.count == nonceLength else {
            throw CryptoError(.invalidInput, operation: "AES-256-GCM", detail: "nonce must be \(nonceLength) bytes")
        }
        var ciphertext = [UInt8](repeating: 0, count: max(plaintext.count, 1))
        var tag = [UInt8](repeating: 0, count: tagLength)
        let ok = key.withUnsafeBufferPointer { k in
            nonce.withUnsafeBufferPointer { n in
                aad.withUnsafeBufferPointer { a in
                    plaintext.withUnsafeBufferPointer { p in
                        ciphertext.withUnsafeMutableBufferPointer { c in
                            tag.withUnsafeMutableBufferPointer { t in
                                CNimbusShims_aes256gcm_seal(k.baseAddress, n.baseAddress, n.count, a.baseAddress, a.count,
                                                            p.baseAddress, p.count, c.baseAddress, t.baseAddress)
                            }
                        }
                    }
                }
            }
        }
        guard ok == 1 else { throw OpenSSLErrors.failure("AES-256-GCM seal") }
        return Sealed(nonce: nonce, ciphertext: Array(ciphertext.prefix(plaintext.count)), tag: tag)
    }

    /// Decrypts and authenticates; `.authenticationFailed` when the key, data, tag or
    /// associated data do not match.
    public static func open(_ sealed: Sealed, key: [UInt8], authenticating aad: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keyLength, sealed.nonce.count == nonceLength, sealed.tag.count == tagLength else {
            throw CryptoError(.invalidInput, operation: "AES-256-GCM", detail: "wrong key, nonce or tag length")
        }
        var plaintext = [UInt8](repeating: 0, count: max(sealed.ciphertext.count, 1))
        let ok = key.withUnsafeBufferPointer { k in
            sealed.nonce.withUnsafeBufferPointer { n in
                aad.withUnsafeBufferPointer { a in
                    sealed.ciphertext.withUnsafeBufferPointer { c in
                        sealed.tag.withUnsafeBufferPointer { t in
                            plaintext.withUnsafeMutableBufferPointer { p in
                                CNimbusShims_aes256gcm_open(k.baseAddress, n.baseAddress, n.count, a.baseAddress, a.count,
                                                            c.baseAddress, c.count, t.baseAddress, p.baseAddress)
                            }
                        }
                    }
                }
            }
        }
        guard ok == 1 else {
            _ = OpenSSLErrors.drain()
            throw CryptoError(.authenticationFailed, operation: "AES-256-GCM open", detail: "authentication failed")
        }
        return Array(plaintext.prefix(sealed.ciphertext.count))
    }
}
