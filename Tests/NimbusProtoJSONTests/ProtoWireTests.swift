import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct ProtoWireTests {
    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), UInt64.max])
    func varintRoundTrips(_ value: UInt64) throws {
        var writer = ProtoWriter()
        writer.writeVarint(value)
        var reader = ProtoReader(writer.bytes)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
    }

    @Test func varintKnownEncoding() {
        var writer = ProtoWriter()
        writer.writeVarint(300)
        #expect(writer.bytes == [0xAC, 0x02])
    }

    @Test(arguments: [Int64(0), -1, 1, -2, Int64.max, Int64.min])
    func zigzagRoundTrips(_ value: Int64) {
        #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        #expect(ZigZag.decode32(ZigZag.encode32(Int32(truncatingIfNeeded: value))) == Int32(truncatingIfNeeded: value))
    }

    @Test func zigzagKnownValues() {
        #expect(ZigZag.encode(-1) == 1)
        #expect(ZigZag.encode(1) == 2)
        #expect(ZigZag.encode32(-2) == 3)
    }

    @Test func fixedWidthIsLittleEndian() throws {
        var writer = ProtoWriter()
        writer.writeFixed32(0x0102_0304)
        writer.writeFixed64(0x0102_0304_0506_0708)
        #expect(Array(writer.bytes.prefix(4)) == [4, 3, 2, 1])
        var reader = ProtoReader(writer.bytes)
        #expect(try reader.readFixed32() == 0x0102_0304)
        #expect(try reader.readFixed64() == 0x0102_0304_0506_0708)
    }

    @Test func truncatedInputThrowsInsteadOfTrapping() {
        var reader = ProtoReader([0x80, 0x80])
        #expect(throws: ProtoWireError.self) { try reader.readVarint() }
        var fixed = ProtoReader([1, 2, 3])
        #expect(throws: ProtoWireError.self) { try fixed.readFixed32() }
        // Field 1, length-delimited, length 10 but only 2 bytes follow.
        var lengthy = ProtoReader([0x0A, 0x0A, 1, 2])
        _ = try? lengthy.readTag()
        #expect(throws: ProtoWireError.self) { try lengthy.readLengthDelimitedRange() }
    }

    @Test func overlongVarintIsRejected() {
        var reader = ProtoReader([UInt8](repeating: 0xFF, count: 11))
        #expect(throws: ProtoWireError.self) { try reader.readVarint() }
    }

    @Test func invalidTagsAreRejected() {
        var zeroField = ProtoReader([0x00])
        #expect(throws: ProtoWireError.self) { try zeroField.readTag() }
        var badWireType = ProtoReader([0x0F])
        #expect(throws: ProtoWireError.self) { try badWireType.readTag() }
    }

    @Test func groupsAreSkipped() throws {
        // field 1 start group, field 2 varint 5, field 1 end group, field 3 varint 7
        var reader = ProtoReader([0x0B, 0x10, 0x05, 0x0C, 0x18, 0x07])
        let (field, type) = try #require(try reader.readTag())
        try reader.skip(type, field: field)
        let next = try #require(try reader.readTag())
        #expect(next.field == 3)
        #expect(try reader.readVarint() == 7)
    }
}
