/// An IPv4 network in CIDR notation, validated: dotted quad, prefix length, no host bits set.
public struct IPv4CIDR: Sendable, Hashable, CustomStringConvertible {
    public let address: UInt32
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix), String(prefix) == parts[1] else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet), String(byte) == octet else { return nil }
            value = value << 8 | UInt32(byte)
        }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        guard value & ~mask == 0 else { return nil }
        address = value
        prefixLength = prefix
    }

    init(address: UInt32, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    var mask: UInt32 { prefixLength == 0 ? 0 : ~UInt32(0) << (32 - prefixLength) }

    public func overlaps(_ other: IPv4CIDR) -> Bool {
        let common = prefixLength < other.prefixLength ? mask : other.mask
        return address & common == other.address & common
    }

    public func contains(_ other: IPv4CIDR) -> Bool {
        prefixLength <= other.prefixLength && other.address & mask == address
    }

    /// RFC 1918 space only: a VPC never shadows a public address or the host's loopback.
    public var isPrivate: Bool {
        [IPv4CIDR(address: 0x0A00_0000, prefixLength: 8), IPv4CIDR(address: 0xAC10_0000, prefixLength: 12),
         IPv4CIDR(address: 0xC0A8_0000, prefixLength: 16)].contains { $0.contains(self) }
    }

    public var description: String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)/\(prefixLength)"
    }
}
