// libFuzzer target for the strict HTTP/1.1 request parser (compiled together with
// Sources/Wire/NimbusHTTP/HTTP1/{HTTP1RequestParser,HTTPTypes}.swift by scripts/fuzz.sh).
// Properties beyond "no crash": the same bytes split at any point parse to the same outcome,
// and every error is a 4xx/5xx status.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1Parser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTP1Limits()
    limits.maxHeaderBytes = 4096
    limits.maxRequestLineBytes = 1024
    limits.maxBodyBytes = 8192
    limits.maxHeaderCount = 32

    let whole = outcome(feeding: [bytes[...]], limits: limits)
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    let pieces = outcome(feeding: [bytes[..<split], bytes[split...]], limits: limits)
    let byteByByte = size <= 512 ? outcome(feeding: bytes.indices.map { bytes[$0...$0] }, limits: limits) : whole
    precondition(whole == pieces && whole == byteByByte, "parse depends on how the bytes were split")
    // The streaming server's parser: no body cap, events instead of whole requests.
    var unbounded = limits
    unbounded.maxBodyBytes = .max
    let streamed = events(feeding: [bytes[...]], limits: unbounded)
    precondition(streamed == events(feeding: [bytes[..<split], bytes[split...]], limits: unbounded),
                 "events depend on how the bytes were split")
    return 0
}

private struct Outcome: Equatable {
    var requests: [String] = []
    var error: HTTP1ParseError?
}

private func outcome(feeding chunks: [ArraySlice<UInt8>], limits: HTTP1Limits) -> Outcome {
    var parser = HTTP1RequestParser(limits: limits)
    var result = Outcome()
    for chunk in chunks {
        parser.append(Array(chunk))
        do {
            while let request = try parser.next() {
                precondition(request.body.count <= limits.maxBodyBytes)
                result.requests.append("\(request.method) \(request.target) \(request.version) \(request.headers.count) \(request.body)")
            }
        } catch {
            precondition((400..<600).contains(error.status))
            // Error content may depend on how much was seen; that it failed may not.
            result.error = HTTP1ParseError(0, "")
            return result
        }
    }
    return result
}

/// Heads and de-chunked bodies as the event API delivers them (body pieces joined).
private func events(feeding chunks: [ArraySlice<UInt8>], limits: HTTP1Limits) -> Outcome {
    var parser = HTTP1RequestParser(limits: limits)
    var result = Outcome()
    var body: [UInt8] = []
    var head = ""
    for chunk in chunks {
        parser.append(Array(chunk))
        do {
            while let event = try parser.nextEvent() {
                switch event {
                case .head(let h, let length):
                    precondition(length.map { $0 >= 0 } ?? true)
                    head = "\(h.method) \(h.target) \(h.version) \(h.headers.count)"
                    body = []
                case .body(let bytes):
                    precondition(!bytes.isEmpty)
                    body += bytes
                case .end:
                    result.requests.append("\(head) \(body)")
                }
            }
        } catch {
            precondition((400..<600).contains(error.status))
            result.error = HTTP1ParseError(0, "")
            return result
        }
    }
    return result
}
