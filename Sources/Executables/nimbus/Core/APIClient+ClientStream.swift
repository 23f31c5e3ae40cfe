import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

extension APIClient {
    /// A client-streaming call: `requests` writes the encoded messages (already protobuf, so a
    /// large upload is not transcoded chunk by chunk), the single answer comes back as JSON.
    func clientStream(_ service: String, _ method: String, timeout: Duration,
                      requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void) async throws -> JSONValue {
        guard let serviceDescriptor = transcoder.descriptors.service(service),
              let methodDescriptor = serviceDescriptor.methods.first(where: { $0.name == method }) else {
            throw CLIError.failed("this nimbus does not know \(service)/\(method)")
        }
        var metadata = Metadata()
        let requestID = RequestIdentity(requestID: nil, traceparent: nil).requestID
        metadata.add("x-request-id", requestID)
        if let key = settings.apiKey { metadata.add("authorization", "Bearer \(key)") }
        let response: [UInt8]
        do {
            response = try await transport.streaming(
                serviceDescriptor.rpcMethod(methodDescriptor), options: CallOptions(metadata: metadata, timeout: timeout),
                requests: requests,
                responses: { stream in
                    var answer: [UInt8]?
                    for try await message in stream { answer = message }
                    guard let answer else { throw RPCError(.internal, "\(method) ended without an answer") }
                    return answer
                })
        } catch var error as RPCError {
            if error.metadata["x-request-id"] == nil { error.metadata.add("x-request-id", requestID) }
            throw error
        }
        return try transcoder.json(fromProtobuf: response, messageType: methodDescriptor.outputType)
    }
}
