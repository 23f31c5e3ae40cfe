// libFuzzer target for the gateway's strict JSON parser (compiled together with
// Sources/Domains/NimbusGateway/JSON/*.swift by scripts/fuzz.sh). Besides "no crash":
// whatever parses re-serializes to text that parses to the same value (compact and pretty),
// and a syntax error always points inside the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGatewayJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let value = try JSONParser.parse(bytes)
        let compact = JSONWriter.serialize(value)
        precondition((try? JSONParser.parse(compact)) == value, "compact round trip changed the value")
        let pretty = JSONWriter.serialize(value, pretty: true)
        precondition((try? JSONParser.parse(pretty)) == value, "pretty round trip changed the value")
    } catch {
        precondition(error.offset >= 0 && error.offset <= bytes.count, "error offset outside the input")
        precondition(error.line >= 1 && error.column >= 1, "error position not 1-based")
    }
    return 0
}
