import NimbusRPCCore
import Synchronization

/// A byte-level service that exercises every transport feature for the interop tests and the
/// benchmark (`nimbus.wiretest.v1.Bytes`). Messages are raw bytes; small control values are
/// ASCII numbers.
final class WireTestService: RPCService {
    static let name = "nimbus.wiretest.v1.Bytes"
    /// Handler-observed cancellations (client RST_STREAM or deadline), for the tests to read.
    let cancellations = Atomic<Int>(0)

    var serviceName: String { Self.name }
    var fileDescriptors: [ProtoFileDescriptor] { [] }

    private func method(_ name: String, _ kind: RPCKind) -> MethodDescriptor {
        MethodDescriptor(service: Self.name, method: name, kind: kind)
    }

    var methods: [ServerMethod] {
        [
            // Echo: the request back; x-echo-* metadata back as headers and (-trailer) trailers.
            ServerMethod(method("Echo", .unary), handler: .unary { request, context in
                for (key, value) in context.metadata where key.hasPrefix("x-echo-") {
                    context.addResponseHeader(key, value: value)
                    context.addTrailer(key.hasSuffix("-bin") ? String(key.dropLast(4)) + "-trailer-bin" : key + "-trailer", value: value)
                }
                return request
            }),
            // Sleep: waits the ASCII number of milliseconds; a cancellation is counted.
            ServerMethod(method("Sleep", .unary), handler: .unary { [self] request, _ in
                let ms = Int(String(decoding: request, as: UTF8.self)) ?? 0
                do {
                    try await Task.sleep(for: .milliseconds(ms))
                } catch {
                    self.cancellations.add(1, ordering: .relaxed)
                    throw error
                }
                return request
            }),
            ServerMethod(method("Cancellations", .unary), handler: .unary { [self] _, _ in
                Array("\(self.cancellations.load(ordering: .relaxed))".utf8)
            }),
            // Fail: "code:message" → that status.
            ServerMethod(method("Fail", .unary), handler: .unary { request, _ in
                let text = String(decoding: request, as: UTF8.self)
                let parts = text.split(separator: ":", maxSplits: 1)
                throw RPCError(RPCCode(rawValue: Int(parts.first ?? "") ?? 2), parts.count > 1 ? String(parts[1]) : "")
            }),
            // Big: a response of the ASCII number of bytes.
            ServerMethod(method("Big", .unary), handler: .unary { request, _ in
                let size = Int(String(decoding: request, as: UTF8.self)) ?? 0
                return [UInt8](repeating: 0x5A, count: max(0, size))
            }),
            // Expand: "count:size" → count messages of size bytes (the i-th filled with i % 256).
            ServerMethod(method("Expand", .serverStreaming), handler: .streaming { requests, responses, _ in
                var iterator = requests.makeAsyncIterator()
                guard let request = try await iterator.next() else { throw RPCError(.invalidArgument, "no request") }
                let parts = String(decoding: request, as: UTF8.self).split(separator: ":")
                let count = Int(parts.first ?? "") ?? 0
                let size = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
                for i in 0..<count {
                    try await responses.write([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: size))
                }
            }),
            // Collect: every request; answers "<messages>:<bytes>".
            ServerMethod(method("Collect", .clientStreaming), handler: .streaming { requests, responses, _ in
                var count = 0, bytes = 0
                for try await message in requests {
                    count += 1
                    bytes += message.count
                }
                try await responses.write(Array("\(count):\(bytes)".utf8))
            }),
            // Chat: each request echoed back as it arrives.
            ServerMethod(method("Chat", .bidirectionalStreaming), handler: .streaming { requests, responses, _ in
                for try await message in requests { try await responses.write(message) }
            }),
        ]
    }
}
