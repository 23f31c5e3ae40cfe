import Logging
import NimbusHTTP
import NimbusRPCCore

/// Maps `:path` to a method and opens a `GRPCServerCall` per request stream. A request for a
/// known method that is not gRPC (wrong method or content-type) is refused here (405/415), a
/// gRPC request for an unknown method gets UNIMPLEMENTED, and any other request is plain HTTP/2
/// for the HTTP handler (operational endpoints, the gateway's REST face).
final class GRPCRouter: HTTP2RequestRouter {
    let methods: [String: GRPCMethodEntry]
    let configuration: GRPCServerConfiguration
    /// Unknown paths share one series so a scanner cannot blow up metric cardinality.
    let unknownMethod = GRPCMethodEntry(ServerMethod(
        MethodDescriptor(service: "unknown", method: "unknown", kind: .unary), handler: .unary { _, _ in [] }))
    let logger: Logger
    let plainHTTP: HTTP1Handler?
    let maxPlainBodyBytes: Int

    init(services: [any RPCService], configuration: GRPCServerConfiguration, plainHTTP: HTTP1Handler? = nil, logger: Logger) {
        var methods: [String: GRPCMethodEntry] = [:]
        for service in services {
            for method in service.methods { methods[method.descriptor.path] = GRPCMethodEntry(method) }
        }
        self.methods = methods
        self.configuration = configuration
        self.logger = logger
        self.plainHTTP = plainHTTP
        self.maxPlainBodyBytes = configuration.httpConfiguration.http1.maxBodyBytes
    }

    func openStream(_ stream: HTTP2ServerStream, head: HTTP2RequestHead) -> any HTTP2StreamHandler {
        if let plainHTTP, methods[head.path] == nil, !isGRPC(head) {
            return HTTP2PlainRequestHandler(stream: stream, head: head, handler: plainHTTP, maxBodyBytes: maxPlainBodyBytes)
        }
        guard head.method == "POST" else {
            var headers = HTTP2HeaderBlock()
            headers.add(":status", "405")
            headers.add("allow", "POST")
            stream.sendHeadersOnly(headers)
            return DiscardingStreamHandler(stream: stream)
        }
        guard let contentType = head.first("content-type"), contentType.hasPrefix("application/grpc") else {
            var headers = HTTP2HeaderBlock()
            headers.add(":status", "415")
            headers.add("content-type", "text/plain")
            stream.sendHeadersOnly(headers)
            return DiscardingStreamHandler(stream: stream)
        }
        guard let method = methods[head.path] else {
            GRPCServerCall.sendTrailersOnly(stream, RPCError(.unimplemented, "Method not found: \(head.path)"))
            recordRejected(head.path, code: .unimplemented)
            return DiscardingStreamHandler(stream: stream)
        }
        if let encoding = head.first("grpc-encoding"), encoding != "identity" {
            GRPCServerCall.sendTrailersOnly(stream, RPCError(.unimplemented, "grpc-encoding \(encoding) is not supported"))
            return DiscardingStreamHandler(stream: stream)
        }
        let call = GRPCServerCall(stream: stream, head: head, entry: method, router: self)
        call.start()
        return call
    }

    private func isGRPC(_ head: HTTP2RequestHead) -> Bool {
        head.method == "POST" && head.first("content-type")?.hasPrefix("application/grpc") == true
    }

    private func recordRejected(_ path: String, code: RPCCode) {
        if configuration.accessLog {
            logger.info("rpc", metadata: ["rpc.method": "\(path)", "rpc.code": "\(code)"])
        }
        unknownMethod.record(code: code, nanoseconds: 0)
    }
}

/// Answers nothing further and returns request bytes to the window at once.
final class DiscardingStreamHandler: HTTP2StreamHandler {
    let stream: HTTP2ServerStream
    init(stream: HTTP2ServerStream) { self.stream = stream }
    func streamReceivedData(_ bytes: UnsafeRawBufferPointer) { stream.consume(bytes.count) }
    func streamReceivedEnd() {}
    func streamClosed(errorCode: UInt32) {}
}
