// libFuzzer target for the gRPC length-prefixed message deframer (compiled together with
// Sources/Wire/NimbusGRPC/Wire/GRPCFraming.swift by scripts/fuzz.sh). Besides "no crash":
// chunking never changes the messages, the size limit holds, and re-framing the messages
// reproduces the consumed bytes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCDeframer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = 1024
    let whole = run([bytes[...]], limit: limit)
    let chunk = bytes.isEmpty ? 1 : Int(bytes[0]) % 17 + 1
    let chunks = stride(from: 0, to: bytes.count, by: chunk).map { bytes[$0..<min($0 + chunk, bytes.count)] }
    let chunked = run(chunks, limit: limit)
    precondition(whole.messages == chunked.messages && whole.failed == chunked.failed, "chunking changed the result")
    for message in whole.messages { precondition(message.count <= limit) }
    if !whole.failed {
        var reframed: [UInt8] = []
        for message in whole.messages { GRPCMessageFramer.append(message, to: &reframed) }
        precondition(Array(bytes.prefix(reframed.count)) == reframed, "re-framing differs from input")
    }
    return 0
}

private func run(_ chunks: [ArraySlice<UInt8>], limit: Int) -> (messages: [[UInt8]], failed: Bool) {
    var deframer = GRPCMessageDeframer(maxMessageSize: limit)
    var messages: [[UInt8]] = []
    do {
        for chunk in chunks {
            deframer.append(Array(chunk))
            while let message = try deframer.next() { messages.append(message) }
        }
        _ = try? deframer.finish()
    } catch {
        return (messages, true)
    }
    return (messages, false)
}
