// libFuzzer target for the gateway's protobuf wire reader (compiled together with
// Sources/Domains/NimbusGateway/Protobuf/ProtoWire.swift by scripts/fuzz.sh). Besides "no
// crash": walking a message field by field (nested length-delimited fields as messages too)
// always terminates, and every varint read re-encodes to a varint that reads back the same.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGatewayProtoWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    walk(ProtoReader(bytes), depth: 0)
    return 0
}

private func walk(_ reader: ProtoReader, depth: Int) {
    var reader = reader
    do {
        while let (field, wireType) = try reader.readTag() {
            switch wireType {
            case .varint:
                let value = try reader.readVarint()
                var writer = ProtoWriter()
                writer.writeVarint(value)
                var again = ProtoReader(writer.bytes)
                precondition((try? again.readVarint()) == value, "varint round trip failed")
            case .lengthDelimited where depth < 16:
                walk(try reader.readSubmessage(), depth: depth + 1)
            default:
                try reader.skip(wireType, field: field)
            }
        }
    } catch {
        precondition(error is ProtoWireError, "unexpected error type")
    }
}
