import NimbusPlatform
import Testing

@Suite("Checksums and streaming digests")
struct ChecksumTests {
    private static let check = Array("123456789".utf8)

    @Test("CRC-32 and CRC-32C check values (the catalogue's '123456789', RFC 3720 B.4)")
    func checkValues() {
        #expect(CRC32.checksum(Self.check) == 0xCBF4_3926)
        #expect(CRC32C.checksum(Self.check) == 0xE306_9283)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("fed in pieces, a CRC equals the one-shot value")
    func pieces() {
        let data = (0..<10_007).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for split in [1, 3, 8, 13, 4096] {
            var crc = CRC32(), crcc = CRC32C()
            var index = 0
            while index < data.count {
                crc.update(data[index..<min(data.count, index + split)])
                crcc.update(data[index..<min(data.count, index + split)])
                index += split
            }
            #expect(crc.value == CRC32.checksum(data), "split \(split)")
            #expect(crcc.value == CRC32C.checksum(data), "split \(split)")
        }
    }

    @Test("SHA-256, SHA-1 and MD5 fed in pieces (FIPS 180-4, RFC 1321 'abc')")
    func digests() {
        let cases: [(StreamingDigest.Algorithm, String)] = [
            (.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (.md5, "900150983cd24fb0d6963f7d28e17f72"),
        ]
        for (algorithm, expected) in cases {
            let digest = StreamingDigest(algorithm)
            digest.update(Array("a".utf8))
            digest.update(ArraySlice(Array("bc".utf8)))
            #expect(Hex.encode(digest.finalize()) == expected)
        }
        #expect(Hex.encode(StreamingDigest.hash(.md5, [UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
    }
}
