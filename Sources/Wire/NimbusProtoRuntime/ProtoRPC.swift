import NimbusRPCCore

/// Glue between typed generated stubs and the byte-level RPC vocabulary.
public enum ProtoRPC {
    /// Decodes a request; malformed bytes end the call with INVALID_ARGUMENT.
    public static func decodeRequest<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws(RPCError) -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch let error as ProtoDecodingError where error.reason != nil {
            throw RPCError(.invalidArgument, "malformed request: \(error.messageName): \(error.reason!)", cause: error)
        } catch {
            throw RPCError(.invalidArgument, "malformed request: \(M.protoMessageName) could not be decoded", cause: error)
        }
    }

    /// Decodes a response; a peer that sends malformed bytes fails the call with INTERNAL.
    public static func decodeResponse<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws(RPCError) -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw RPCError(.internal, "malformed response: \(M.protoMessageName) could not be decoded", cause: error)
        }
    }

    /// The one request of a unary or server-streaming call.
    public static func singleRequest<M: ProtoMessage>(_ requests: RPCMessageStream<[UInt8]>, as type: M.Type) async throws -> M {
        var iterator = requests.makeAsyncIterator()
        guard let first = try await iterator.next() else {
            throw RPCError(.internal, "the client half-closed without sending a request")
        }
        guard try await iterator.next() == nil else {
            throw RPCError(.internal, "too many requests for a server-streaming method")
        }
        return try decodeRequest(type, first)
    }

    /// The one response of a unary or client-streaming call.
    public static func singleResponse<M: ProtoMessage>(_ responses: RPCMessageStream<[UInt8]>, as type: M.Type) async throws -> M {
        var iterator = responses.makeAsyncIterator()
        guard let first = try await iterator.next() else {
            throw RPCError(.internal, "the server ended the call without a response")
        }
        guard try await iterator.next() == nil else {
            throw RPCError(.internal, "the server sent more than one response")
        }
        return try decodeResponse(type, first)
    }

    /// Every message of a stream, in order.
    public static func collect<M: Sendable>(_ stream: RPCMessageStream<M>) async throws -> [M] {
        var all: [M] = []
        for try await message in stream { all.append(message) }
        return all
    }
}
