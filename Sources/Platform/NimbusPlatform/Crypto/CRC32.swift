import CZlib

/// CRC-32 (IEEE 802.3, as zlib and S3's `x-amz-checksum-crc32` use it), incrementally.
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        // zlib takes a uInt length: feed large buffers in pieces.
        while !rest.isEmpty {
            let n = min(rest.count, Int(UInt32.max >> 1))
            value = UInt32(crc32(uLong(value), rest.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(n)))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    public mutating func update<C: ContiguousCollection>(_ bytes: C) where C.Element == UInt8 {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Big-endian bytes, the form S3 base64-encodes.
    public var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    public static func checksum<C: ContiguousCollection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }
}

/// CRC-32C (Castagnoli, iSCSI; S3's `x-amz-checksum-crc32c`), table-driven slicing-by-8.
public struct CRC32C: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    public var value: UInt32 { state ^ 0xFFFF_FFFF }
    public var bytes: [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    /// tables[k][b]: the CRC of byte b followed by k zero bytes.
    private static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for b in 0..<256 {
            var crc = UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][b] = crc
        }
        for b in 0..<256 {
            for k in 1..<8 { tables[k][b] = (tables[k - 1][b] >> 8) ^ tables[0][Int(tables[k - 1][b] & 0xFF)] }
        }
        return tables
    }()

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        Self.tables.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            var i = 0
            let n = bytes.count
            while n - i >= 8 {
                let lo = crc ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
                crc = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                    ^ t3[Int(bytes[i + 4])] ^ t2[Int(bytes[i + 5])] ^ t1[Int(bytes[i + 6])] ^ t0[Int(bytes[i + 7])]
                i += 8
            }
            while i < n {
                crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(bytes[i])) & 0xFF)]
                i += 1
            }
        }
        state = crc
    }

    public mutating func update<C: ContiguousCollection>(_ bytes: C) where C.Element == UInt8 {
        bytes.withUnsafeBytes { update($0) }
    }

    public static func checksum<C: ContiguousCollection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }
}
