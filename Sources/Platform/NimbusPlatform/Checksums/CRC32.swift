/// CRC-32 (ISO-HDLC, the zlib/PNG one) and CRC-32C (Castagnoli, iSCSI): the checksums S3
/// clients send as `x-amz-checksum-crc32` / `-crc32c`. Table-driven, eight bytes per step
/// (slicing-by-8); both reflected, initial value and final xor 0xFFFFFFFF. Fed in pieces:
/// `var c = CRC32(.castagnoli); c.update(a); c.update(b); c.value`.
public struct CRC32: Sendable {
    public enum Polynomial: Sendable, Hashable {
        /// 0x04C11DB7 (reflected 0xEDB88320): zlib's crc32.
        case ieee
        /// 0x1EDC6F41 (reflected 0x82F63B78).
        case castagnoli

        fileprivate var tables: [[UInt32]] {
            switch self {
            case .ieee: CRC32Tables.ieee
            case .castagnoli: CRC32Tables.castagnoli
            }
        }
    }

    public let polynomial: Polynomial
    private var crc: UInt32 = 0xFFFF_FFFF

    public init(_ polynomial: Polynomial) { self.polynomial = polynomial }

    /// The checksum of everything fed so far (feeding may continue).
    public var value: UInt32 { crc ^ 0xFFFF_FFFF }

    /// `value` big-endian, as S3 base64-encodes it.
    public var bigEndianBytes: [UInt8] {
        let v = value
        return [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        let tables = polynomial.tables
        var crc = self.crc
        tables[0].withUnsafeBufferPointer { t0 in
        tables[1].withUnsafeBufferPointer { t1 in
        tables[2].withUnsafeBufferPointer { t2 in
        tables[3].withUnsafeBufferPointer { t3 in
        tables[4].withUnsafeBufferPointer { t4 in
        tables[5].withUnsafeBufferPointer { t5 in
        tables[6].withUnsafeBufferPointer { t6 in
        tables[7].withUnsafeBufferPointer { t7 in
            var index = 0
            let count = bytes.count
            while count - index >= 8 {
                let one = crc ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                                 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
                let two = UInt32(bytes[index + 4]) | UInt32(bytes[index + 5]) << 8
                    | UInt32(bytes[index + 6]) << 16 | UInt32(bytes[index + 7]) << 24
                crc = t7[Int(one & 0xff)] ^ t6[Int((one >> 8) & 0xff)] ^ t5[Int((one >> 16) & 0xff)] ^ t4[Int(one >> 24)]
                    ^ t3[Int(two & 0xff)] ^ t2[Int((two >> 8) & 0xff)] ^ t1[Int((two >> 16) & 0xff)] ^ t0[Int(two >> 24)]
                index += 8
            }
            while index < count {
                crc = t0[Int((crc ^ UInt32(bytes[index])) & 0xff)] ^ (crc >> 8)
                index += 1
            }
        }}}}}}}}
        self.crc = crc
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    public mutating func update(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { update($0) } }

    public static func checksum(_ polynomial: Polynomial, _ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32(polynomial)
        crc.update(bytes)
        return crc.value
    }
}

private enum CRC32Tables {
    static let ieee = make(reflected: 0xEDB8_8320)
    static let castagnoli = make(reflected: 0x82F6_3B78)

    /// Table 0 is the classic byte table; table k advances a byte that sits k bytes further on.
    private static func make(reflected polynomial: UInt32) -> [[UInt32]] {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[0][byte] = crc
        }
        for byte in 0..<256 {
            for k in 1..<8 {
                let previous = tables[k - 1][byte]
                tables[k][byte] = (previous >> 8) ^ tables[0][Int(previous & 0xff)]
            }
        }
        return tables
    }
}
