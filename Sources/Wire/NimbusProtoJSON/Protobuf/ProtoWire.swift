/// The protobuf binary encoding at its lowest level: tags, varints, fixed-width numbers and
/// length-delimited fields. Pure Swift over `[UInt8]`, so the gateway can read and write any
/// message it has a descriptor for without generated code.
public enum ProtoWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Malformed protobuf bytes, with the offset where reading failed.
public struct ProtoWireError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }
    public var description: String { "malformed protobuf at byte \(offset): \(message)" }
}

/// Reads one message's fields in order. Never traps on bad input: every read is bounds-checked
/// and throws `ProtoWireError`.
public struct ProtoReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
    }

    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
    }

    public var isAtEnd: Bool { offset >= end }

    /// The next field's number and wire type, or nil at the end of the message.
    public mutating func readTag() throws -> (field: Int, wireType: ProtoWireType)? {
        guard !isAtEnd else { return nil }
        let start = offset
        let key = try readVarint()
        guard key <= UInt64(UInt32.max) else { throw ProtoWireError("tag out of range", offset: start) }
        let field = Int(key >> 3)
        guard field >= 1, field <= 536_870_911 else {
            throw ProtoWireError("invalid field number \(field)", offset: start)
        }
        guard let wireType = ProtoWireType(rawValue: UInt8(key & 7)) else {
            throw ProtoWireError("invalid wire type \(key & 7)", offset: start)
        }
        return (field, wireType)
    }

    public mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            guard offset < end else { throw ProtoWireError("truncated varint", offset: start) }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw ProtoWireError("varint overflows 64 bits", offset: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ProtoWireError("varint longer than 10 bytes", offset: start) }
        }
    }

    public mutating func readFixed32() throws -> UInt32 {
        guard end - offset >= 4 else { throw ProtoWireError("truncated fixed32", offset: offset) }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return value
    }

    public mutating func readFixed64() throws -> UInt64 {
        guard end - offset >= 8 else { throw ProtoWireError("truncated fixed64", offset: offset) }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return value
    }

    /// The byte range of a length-delimited field's payload (no copy).
    public mutating func readLengthDelimitedRange() throws -> Range<Int> {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(end - offset) else {
            throw ProtoWireError("length \(length) runs past the end", offset: start)
        }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    public mutating func readBytes() throws -> [UInt8] {
        Array(bytes[try readLengthDelimitedRange()])
    }

    public mutating func readString() throws -> String {
        let start = offset
        let range = try readLengthDelimitedRange()
        guard let string = String(validating: bytes[range], as: UTF8.self) else {
            throw ProtoWireError("string is not valid UTF-8", offset: start)
        }
        return string
    }

    /// A reader over an embedded message's bytes.
    public mutating func readSubmessage() throws -> ProtoReader {
        ProtoReader(bytes, range: try readLengthDelimitedRange())
    }

    /// Skips a field's value; groups (deprecated) are skipped with their nesting checked.
    public mutating func skip(_ wireType: ProtoWireType, field: Int, depth: Int = 0) throws {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimitedRange()
        case .startGroup:
            guard depth < 64 else { throw ProtoWireError("groups nested too deeply", offset: offset) }
            while true {
                guard let (inner, innerType) = try readTag() else {
                    throw ProtoWireError("unterminated group \(field)", offset: offset)
                }
                if innerType == .endGroup {
                    guard inner == field else { throw ProtoWireError("mismatched end of group", offset: offset) }
                    return
                }
                try skip(innerType, field: inner, depth: depth + 1)
            }
        case .endGroup: throw ProtoWireError("unexpected end of group", offset: offset)
        }
    }
}

/// Appends fields in the protobuf binary encoding.
public struct ProtoWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func writeTag(_ field: Int, _ wireType: ProtoWireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    public mutating func writeFixed32(_ value: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }

    public mutating func writeFixed64(_ value: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    public mutating func writeLengthDelimited(_ payload: some Collection<UInt8>) {
        writeVarint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    public mutating func writeRaw(_ payload: some Sequence<UInt8>) {
        bytes.append(contentsOf: payload)
    }
}

/// ZigZag encoding for `sint32` / `sint64`.
public enum ZigZag {
    public static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }
    public static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
    public static func encode32(_ value: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }
    public static func decode32(_ value: UInt64) -> Int32 {
        let v = UInt32(truncatingIfNeeded: value)
        return Int32(bitPattern: v >> 1) ^ -Int32(bitPattern: v & 1)
    }
}
