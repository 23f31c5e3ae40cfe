// libFuzzer target for the gRPC length-prefixed message deframer and message decompression
// (compiled together with Sources/Wire/NimbusGRPC/Wire/GRPCFraming.swift and GRPCCompression.swift
// by scripts/fuzz.sh). Besides "no crash": the buffered path (`append`/`next`) and the streaming
// path (`process`, any chunking) agree, the size limit holds for inflated messages too, and
// re-framing uncompressed messages reproduces the consumed bytes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCDeframer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = 1024
    // The last byte picks the encoding (the first ones are framing): a compressed seed ends with
    // one extra byte, a partial next message that neither path delivers.
    let encoding: GRPCMessageEncoding? = bytes.last.map { [nil, .gzip, .deflate][Int($0) % 3] } ?? nil
    let whole = buffered(bytes, limit: limit, encoding: encoding)
    let chunk = bytes.isEmpty ? 1 : Int(bytes[0]) % 17 + 1
    let chunks = stride(from: 0, to: bytes.count, by: chunk).map { Array(bytes[$0..<min($0 + chunk, bytes.count)]) }
    let chunked = streamed(chunks, limit: limit, encoding: encoding)
    precondition(whole.messages == chunked.messages && whole.failed == chunked.failed, "the two paths disagree")
    for message in whole.messages { precondition(message.count <= limit) }
    if !whole.failed && encoding == nil {
        var reframed: [UInt8] = []
        for message in whole.messages { GRPCMessageFramer.append(message, to: &reframed) }
        precondition(Array(bytes.prefix(reframed.count)) == reframed, "re-framing differs from input")
    }
    return 0
}

private func buffered(_ bytes: [UInt8], limit: Int, encoding: GRPCMessageEncoding?) -> (messages: [[UInt8]], failed: Bool) {
    var deframer = GRPCMessageDeframer(maxMessageSize: limit)
    deframer.decompression = encoding
    var messages: [[UInt8]] = []
    do {
        deframer.append(bytes)
        while let message = try deframer.next() { messages.append(message) }
    } catch {
        return (messages, true)
    }
    return (messages, false)
}

private func streamed(_ chunks: [[UInt8]], limit: Int, encoding: GRPCMessageEncoding?) -> (messages: [[UInt8]], failed: Bool) {
    var deframer = GRPCMessageDeframer(maxMessageSize: limit)
    deframer.decompression = encoding
    var messages: [[UInt8]] = []
    do {
        for chunk in chunks {
            try chunk.withUnsafeBytes { try deframer.process($0) { messages.append($0) } }
        }
    } catch {
        return (messages, true)
    }
    return (messages, false)
}
