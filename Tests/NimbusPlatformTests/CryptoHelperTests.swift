import NimbusPlatform
import Testing

@Suite("Crypto helpers")
struct CryptoHelperTests {
    @Test("constant-time comparison")
    func constantTime() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test("secure random bytes differ and have the asked length")
    func random() throws {
        let a = try SecureRandom.bytes(32), b = try SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
        #expect(try SecureRandom.bytes(0).isEmpty)
    }

    @Test("base64url round trip, no padding, rejects foreign characters")
    func base64url() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.decode("ab+c") == nil)
        #expect(Base64URL.decode("a") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test("password hash: verifies, rejects wrong password, carries salt and parameters")
    func passwordHash() throws {
        let hasher = try PasswordHasher(parameters: .testing, allowWeak: true)
        let a = try hasher.hash("correct horse battery staple")
        let b = try hasher.hash("correct horse battery staple")
        #expect(a.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(a != b, "a per-hash salt makes equal passwords hash differently")
        #expect(!a.contains("correct horse"))
        #expect(try hasher.verify("correct horse battery staple", against: a))
        #expect(try !hasher.verify("correct horse battery stapl", against: a))
        #expect(try !hasher.verify("", against: a))
        #expect(throws: CryptoError.self) { try hasher.verify("x", against: "$scrypt$ln=10$bad") }
        #expect(throws: CryptoError.self) { try hasher.verify("x", against: "plaintext") }
    }

    @Test("weak scrypt parameters are refused outside tests")
    func weakParameters() throws {
        #expect(throws: CryptoError.self) { try PasswordHasher(parameters: .testing) }
        let production = try PasswordHasher(parameters: .production)
        let weak = try PasswordHasher(parameters: .testing, allowWeak: true)
        #expect(production.needsRehash(try weak.hash("pw")))
        // A hash made with weak parameters still verifies under the production hasher.
        #expect(try production.verify("pw", against: try weak.hash("pw")))
    }

    @Test("envelope encryption round trip; context, key and bytes are authenticated")
    func envelope() throws {
        let kek = Secret(Base64URL.encode(try SecureRandom.bytes(32)))
        let cipher = try EnvelopeCipher(keyEncryptionKey: kek)
        let sealed = try cipher.seal("s3cr3t-db-password", context: "databases:1:password")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("s3cr3t"))
        #expect(try cipher.openText(sealed, context: "databases:1:password") == "s3cr3t-db-password")
        #expect(try cipher.seal("s3cr3t-db-password", context: "databases:1:password") != sealed, "fresh data key and nonce")
        #expect(throws: CryptoError.self) { try cipher.open(sealed, context: "databases:2:password") }
        var altered = sealed
        altered[altered.count - 20] ^= 0x40
        #expect(throws: CryptoError.self) { try cipher.open(altered, context: "databases:1:password") }
        let other = try EnvelopeCipher(keyEncryptionKey: Secret(Base64URL.encode(try SecureRandom.bytes(32))))
        #expect(throws: CryptoError.self) { try other.open(sealed, context: "databases:1:password") }
        #expect(throws: CryptoError.self) { try EnvelopeCipher(keyEncryptionKey: Secret("too-short")) }
    }
}
