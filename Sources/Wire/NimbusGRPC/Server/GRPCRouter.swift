import NimbusEventLoop
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

    /// Field tags, decided once per distinct field of a connection instead of per request:
    /// custom metadata (text or binary), or reserved — with the reserved fields routing reads
    /// told apart.
    static let textMetadataTag: UInt8 = 0
    static let binaryMetadataTag: UInt8 = 1
    static let reservedTag: UInt8 = 2
    static let contentTypeTag: UInt8 = 3
    static let timeoutTag: UInt8 = 4
    static let encodingTag: UInt8 = 5

    func tag(headerName name: String) -> UInt8 {
        switch name {
        case "content-type": return Self.contentTypeTag
        case "grpc-timeout": return Self.timeoutTag
        case "grpc-encoding": return Self.encodingTag
        default:
            if Metadata.isReserved(name) { return Self.reservedTag }
            return Metadata.isBinaryKey(name) ? Self.binaryMetadataTag : Self.textMetadataTag
        }
    }

    func openStream(_ opening: HTTP2StreamOpening, head: inout HTTP2RequestHead) -> HTTP2ServerStream {
        // One pass over the field tags for what routing needs, and one method lookup.
        var contentType: String?
        var encoding: String?
        var timeoutText: String?
        let tags = head.fieldTags
        for index in tags.indices where tags[index] > Self.reservedTag {
            switch tags[index] {
            case Self.contentTypeTag: contentType = head.fields[index].value
            case Self.timeoutTag: timeoutText = head.fields[index].value
            default: encoding = head.fields[index].value
            }
        }
        // A connection repeats its requests' :path and grpc-timeout: the loop remembers the
        // last ones resolved (the same String storage compares by identity, no hashing).
        let loopState = GRPCLoopState.on(opening.loop, key: ObjectIdentifier(self))
        let method: GRPCMethodEntry?
        if let last = loopState.lastMethod, head.path == loopState.lastPath {
            method = last
        } else {
            method = methods[head.path]
            if let method {
                loopState.lastPath = head.path
                loopState.lastMethod = method
            }
        }
        let isGRPC = head.method == "POST" && contentType?.hasPrefix("application/grpc") == true
        if let plainHTTP, method == nil, !isGRPC {
            return HTTP2PlainRequestHandler(opening: opening, head: head, handler: plainHTTP, maxBodyBytes: maxPlainBodyBytes)
        }
        guard head.method == "POST" else {
            let stream = Self.refusing(opening)
            var headers = HTTP2HeaderBlock()
            headers.add(":status", "405")
            headers.add("allow", "POST")
            stream.sendHeadersOnly(headers)
            return stream
        }
        guard isGRPC else {
            let stream = Self.refusing(opening)
            var headers = HTTP2HeaderBlock()
            headers.add(":status", "415")
            headers.add("content-type", "text/plain")
            stream.sendHeadersOnly(headers)
            return stream
        }
        guard let method else {
            let stream = Self.refusing(opening)
            GRPCServerCall.sendTrailersOnly(stream, RPCError(.unimplemented, "Method not found: \(head.path)"))
            recordRejected(head.path, code: .unimplemented)
            return stream
        }
        let compression: GRPCMessageEncoding?
        switch GRPCMessageEncoding.parse(encoding) {
        case .success(let parsed):
            compression = parsed
        case .failure(let unsupported):
            let stream = Self.refusing(opening)
            // The spec's answer: UNIMPLEMENTED, with the encodings we do accept.
            var block = HTTP2HeaderBlock()
            block.add(":status", "200")
            block.add("content-type", "application/grpc")
            block.add("grpc-accept-encoding", GRPCMessageEncoding.acceptHeader)
            GRPCServerCall.addStatus(RPCError(.unimplemented, "grpc-encoding \(unsupported.name.prefix(32)) is not supported"), to: &block)
            stream.sendHeadersOnly(block)
            recordRejected(method, code: .unimplemented)
            return stream
        }
        var timeout: Duration?
        if let timeoutText, !loopState.lastTimeoutText.isEmpty, timeoutText == loopState.lastTimeoutText {
            timeout = loopState.lastTimeout
        } else if let timeoutText {
            // A deadline the client meant to set but we cannot read: refuse rather than run
            // without one (INTERNAL, as grpc-go answers a malformed grpc-timeout).
            guard let parsed = GRPCTimeout.parse(timeoutText) else {
                let stream = Self.refusing(opening)
                GRPCServerCall.sendTrailersOnly(stream, RPCError(.internal, "malformed grpc-timeout: \(timeoutText.prefix(32))"))
                recordRejected(method, code: .internal)
                return stream
            }
            timeout = parsed
            loopState.lastTimeoutText = timeoutText
            loopState.lastTimeout = parsed
        }
        let call = GRPCServerCall(
            opening: opening, head: head, timeout: timeout, compression: compression, entry: method, router: self,
            loopState: loopState)
        call.start()
        return call
    }

    /// A refused request's stream: answered at once, it discards whatever the peer still sends.
    private static func refusing(_ opening: HTTP2StreamOpening) -> HTTP2ServerStream {
        HTTP2ServerStream(opening: opening)
    }

    private func recordRejected(_ entry: GRPCMethodEntry, code: RPCCode) {
        if configuration.accessLog {
            logger.info("rpc", metadata: ["rpc.method": "\(entry.path)", "rpc.code": "\(code)"])
        }
        entry.record(code: code, nanoseconds: 0)
    }

    private func recordRejected(_ path: String, code: RPCCode) {
        if configuration.accessLog {
            logger.info("rpc", metadata: ["rpc.method": "\(path)", "rpc.code": "\(code)"])
        }
        unknownMethod.record(code: code, nanoseconds: 0)
    }
}

/// What a router keeps per event loop (`EventLoop.attachment`): the loop's unary runner, the
/// last method and deadline it resolved, and the calls whose deadline needs a timer if they
/// are still running at the end of the tick. Loop-confined.
final class GRPCLoopState: EventLoopFlushable {
    let runner: GRPCUnaryRunner
    @exclusivity(unchecked) var lastPath = ""
    @exclusivity(unchecked) var lastMethod: GRPCMethodEntry?
    /// Empty until a valid text is cached (an empty `grpc-timeout` is malformed, never cached).
    @exclusivity(unchecked) var lastTimeoutText = ""
    @exclusivity(unchecked) var lastTimeout: Duration?
    @exclusivity(unchecked) private var deadlineCalls: [GRPCServerCall] = []
    @exclusivity(unchecked) private var deadlineBatch: [GRPCServerCall] = []
    @exclusivity(unchecked) private var watching = false

    init(loop: EventLoop) { runner = GRPCUnaryRunner(loop: loop) }

    static func on(_ loop: EventLoop, key: ObjectIdentifier) -> GRPCLoopState {
        loop.attachment(key) { GRPCLoopState(loop: loop) }
    }

    /// At the end of this tick, `call` arms its deadline timer if it is still running (most
    /// unary calls finish within the tick their request arrived in and never need one).
    func watchDeadline(_ call: GRPCServerCall) {
        deadlineCalls.append(call)
        if !watching {
            watching = true
            runner.loop.flushAtTickEnd(self)
        }
    }

    func flushAtTickEnd() {
        watching = false
        swap(&deadlineCalls, &deadlineBatch)
        for call in deadlineBatch { call.armDeadline() }
        deadlineBatch.removeAll(keepingCapacity: true)
    }
}
