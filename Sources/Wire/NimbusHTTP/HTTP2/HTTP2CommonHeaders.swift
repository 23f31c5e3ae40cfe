#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Header names and values seen on nearly every gRPC request, returned as string literals
/// (no allocation, no UTF-8 validation) when the received bytes match. Only strings longer
/// than 15 bytes are listed: shorter ones are stored inline by String and cost nothing.
enum HTTP2CommonHeaders {
    private static let names: [(StaticString, String)] = [
        ("grpc-accept-encoding", "grpc-accept-encoding"),
    ]
    private static let values: [(StaticString, String)] = [
        ("application/grpc", "application/grpc"), ("identity,deflate,gzip", "identity,deflate,gzip"),
        ("application/grpc+proto", "application/grpc+proto"),
    ]

    @inline(__always)
    static func name(_ bytes: UnsafeBufferPointer<UInt8>) -> String? { bytes.count > 15 ? match(bytes, names) : nil }

    @inline(__always)
    static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        bytes.count > 15 ? match(bytes, values) : nil
    }

    private static func match(_ bytes: UnsafeBufferPointer<UInt8>, _ candidates: [(StaticString, String)]) -> String? {
        guard let base = bytes.baseAddress else { return nil }
        for (raw, string) in candidates where raw.utf8CodeUnitCount == bytes.count {
            if memcmp(raw.utf8Start, base, bytes.count) == 0 { return string }
        }
        return nil
    }
}
