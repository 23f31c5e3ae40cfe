/// Header names and values seen on nearly every gRPC request, returned as string literals
/// (no allocation, no UTF-8 validation) when the received bytes match.
enum HTTP2CommonHeaders {
    private static let names: [String] = [
        "content-type", "te", "user-agent", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
        "accept-encoding", "x-request-id", "authorization", "grpc-trace-bin", "traceparent",
    ]
    private static let values: [String] = [
        "application/grpc", "trailers", "identity,deflate,gzip", "identity", "application/grpc+proto", "gzip",
    ]

    @inline(__always)
    static func name(_ bytes: UnsafeBufferPointer<UInt8>) -> String? { match(bytes, names) }

    @inline(__always)
    static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> String? { match(bytes, values) }

    private static func match(_ bytes: UnsafeBufferPointer<UInt8>, _ candidates: [String]) -> String? {
        for candidate in candidates where candidate.utf8.count == bytes.count {
            if candidate.utf8.elementsEqual(bytes) { return candidate }
        }
        return nil
    }
}
