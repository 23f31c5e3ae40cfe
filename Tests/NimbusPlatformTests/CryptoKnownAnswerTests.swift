import NimbusPlatform
import Testing

private func hex(_ s: String) -> [UInt8] { Hex.decode(s)! }

@Suite("Crypto known-answer vectors")
struct CryptoKnownAnswerTests {
    @Test("SHA-256 (FIPS 180-4 examples)")
    func sha256() {
        #expect(Hex.encode(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("HMAC-SHA256 (RFC 4231 cases 1, 2, 6)", arguments: [
        ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Hex.encode(Array("Jefe".utf8)), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (String(repeating: "aa", count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func hmac(key: String, message: [UInt8], expected: String) {
        let code = HMACSHA256.authenticationCode(key: hex(key), message: message)
        #expect(Hex.encode(code) == expected)
        #expect(HMACSHA256.isValid(code, key: hex(key), message: message))
        var flipped = code
        flipped[31] ^= 1
        #expect(!HMACSHA256.isValid(flipped, key: hex(key), message: message))
    }

    @Test("scrypt (RFC 7914 §12 vectors 1 and 2)")
    func scrypt() throws {
        let v1 = try PasswordHasher.scrypt(password: [], salt: [], logN: 4, r: 1, p: 1, length: 64)
        #expect(Hex.encode(v1) == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
        let v2 = try PasswordHasher.scrypt(password: Array("password".utf8), salt: Array("NaCl".utf8), logN: 10, r: 8, p: 16, length: 64)
        #expect(Hex.encode(v2) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test("AES-256-GCM (GCM spec test cases 13, 14, 16)")
    func gcm() throws {
        let zeroKey = [UInt8](repeating: 0, count: 32), zeroNonce = [UInt8](repeating: 0, count: 12)
        let t13 = try AESGCM.seal([], key: zeroKey, nonce: zeroNonce)
        #expect(t13.ciphertext.isEmpty)
        #expect(Hex.encode(t13.tag) == "530f8afbc74536b9a963b4f1c4cb738b")
        let t14 = try AESGCM.seal([UInt8](repeating: 0, count: 16), key: zeroKey, nonce: zeroNonce)
        #expect(Hex.encode(t14.ciphertext) == "cea7403d4d606b6e074ec5d3baf39d18")
        #expect(Hex.encode(t14.tag) == "d0d1c8a799996bf0265b98b5d48ab919")

        let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        let plaintext = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        let t16 = try AESGCM.seal(plaintext, key: key, nonce: hex("cafebabefacedbaddecaf888"), authenticating: aad)
        #expect(Hex.encode(t16.ciphertext) == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
        #expect(Hex.encode(t16.tag) == "76fc6ece0f4e1768cddf8853bb2d551b")
        #expect(try AESGCM.open(t16, key: key, authenticating: aad) == plaintext)

        var tampered = t16
        tampered.ciphertext[0] ^= 1
        #expect(throws: CryptoError.self) { try AESGCM.open(tampered, key: key, authenticating: aad) }
        #expect(throws: CryptoError.self) { try AESGCM.open(t16, key: key, authenticating: []) }
    }
}
