import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

/// Calls any RPC the gateway serves with proto3 JSON in and out: requests are built as JSON
/// objects (proto field names) and transcoded from the generated descriptors, so every
/// command prints exactly what the REST face would return.
struct APIClient {
    let settings: ResolvedSettings
    let transport: any RPCClientTransport
    let transcoder: ProtoJSONTranscoder

    init(settings: ResolvedSettings) throws {
        self.settings = settings
        transport = try Transports.make(GatewayEndpoint(parsing: settings.endpoint))
        transcoder = ProtoJSONTranscoder(descriptors: try CLIDescriptors.shared(), options: .init(emitDefaultValues: true))
    }

    /// `service` is the full service name, `method` the RPC name.
    func call(_ service: String, _ method: String, _ request: JSONObject = JSONObject(), authenticated: Bool = true) async throws -> JSONValue {
        guard let serviceDescriptor = transcoder.descriptors.service(service),
              let methodDescriptor = serviceDescriptor.methods.first(where: { $0.name == method }) else {
            throw CLIError.failed("this nimbus does not know \(service)/\(method); is it older than the gateway?")
        }
        let bytes: [UInt8]
        do {
            bytes = try transcoder.protobuf(fromJSON: .object(request), messageType: methodDescriptor.inputType)
        } catch {
            throw CLIError.usage(error.description)
        }
        var metadata = Metadata()
        let requestID = RequestIdentity(requestID: nil, traceparent: nil).requestID
        metadata.add("x-request-id", requestID)
        if authenticated, let key = settings.apiKey { metadata.add("authorization", "Bearer \(key)") }
        let response: RPCResponse<[UInt8]>
        do {
            response = try await transport.unary(serviceDescriptor.rpcMethod(methodDescriptor), request: bytes,
                                                 options: CallOptions(metadata: metadata, timeout: settings.timeout))
        } catch var error as RPCError {
            if error.metadata["x-request-id"] == nil { error.metadata.add("x-request-id", requestID) }
            throw error
        }
        return try transcoder.json(fromProtobuf: response.message, messageType: methodDescriptor.outputType)
    }

    /// Calls a list RPC page by page (`--all`) and returns the items under `itemsField`.
    func list(_ service: String, _ method: String, _ request: JSONObject, itemsField: String,
              page: PageOptions) async throws -> (items: [JSONValue], nextPageToken: String?) {
        var request = request
        if let size = page.pageSize { request["page_size"] = .integer(size) }
        if let token = page.pageToken { request["page_token"] = .string(token) }
        var items: [JSONValue] = []
        while true {
            let response = try await call(service, method, request)
            if case .array(let batch)? = response[itemsField] { items.append(contentsOf: batch) }
            let next = response["nextPageToken"]?.stringValue ?? ""
            if next.isEmpty { return (items, nil) }
            if !page.all { return (items, next) }
            request["page_token"] = .string(next)
        }
    }
}

extension APIClient {
    /// A server-streaming call, collected (for bounded streams such as logs without follow).
    func serverStream(_ service: String, _ method: String, _ request: JSONObject) async throws -> [JSONValue] {
        guard let serviceDescriptor = transcoder.descriptors.service(service),
              let methodDescriptor = serviceDescriptor.methods.first(where: { $0.name == method }) else {
            throw CLIError.failed("this nimbus does not know \(service)/\(method)")
        }
        let bytes: [UInt8]
        do {
            bytes = try transcoder.protobuf(fromJSON: .object(request), messageType: methodDescriptor.inputType)
        } catch {
            throw CLIError.usage(error.description)
        }
        var metadata = Metadata()
        if let key = settings.apiKey { metadata.add("authorization", "Bearer \(key)") }
        let transcoder = self.transcoder
        let outputType = methodDescriptor.outputType
        return try await transport.streaming(serviceDescriptor.rpcMethod(methodDescriptor),
                                             options: CallOptions(metadata: metadata, timeout: settings.timeout),
                                             requests: { writer in try await writer.write(bytes) },
                                             responses: { stream in
            var out: [JSONValue] = []
            for try await message in stream { out.append(try transcoder.json(fromProtobuf: message, messageType: outputType)) }
            return out
        })
    }
}
