import NimbusEventLoop
import NimbusHTTP
import NimbusRPCCore

// How a call gets onto a stream: endpoint choice with retry of calls the server never saw,
// request headers, and the two ways responses are consumed.
extension GRPCChannel {
    /// Picks an endpoint, gets a connection and opens the stream, moving on to another endpoint
    /// while the failure proves the server never saw the call.
    func startCall(_ method: MethodDescriptor, options: CallOptions, deadline: ContinuousClock.Instant?,
                   body: [UInt8]?, excluded: inout Set<Int>, lastError: inout RPCError?,
                   firstPick: ClientLoadBalancer.Pick? = nil) async throws -> (ClientCall, Int) {
        var firstPick = firstPick
        for _ in 0..<maxAttempts {
            if Task.isCancelled { throw RPCError(.cancelled, "the call was cancelled before it started") }
            if let deadline, deadline <= .now {
                throw RPCError(.deadlineExceeded, "the call's deadline passed before it could start")
            }
            let pick = firstPick ?? pool.pickEndpoint(excluding: excluded)
            firstPick = nil
            // Built (and the metadata checked) before anything is sent or waited for.
            var headers = try requestHeaders(method, options: options, endpoint: pick.index, deadline: deadline)
            var builtAt = deadline == nil ? nil : ContinuousClock.now
            if let notBefore = pick.notBefore {
                // Every endpoint is reconnecting with backoff: wait for the first, a little.
                if notBefore - .now > configuration.reconnectWait || deadline.map({ notBefore >= $0 }) == true {
                    throw lastError ?? RPCError(.unavailable, "no endpoint of \(configuration.endpoints.map(\.description).joined(separator: ",")) is reachable now")
                }
                try? await Task.sleep(until: notBefore, clock: .continuous)
                if Task.isCancelled { throw RPCError(.cancelled, "the call was cancelled before it started") }
                headers = try requestHeaders(method, options: options, endpoint: pick.index, deadline: deadline)  // time left changed
                builtAt = deadline == nil ? nil : ContinuousClock.now
            }
            let connection: HTTP2ClientConnection
            do {
                connection = try await pool.connection(to: pick.index, deadline: deadline)
            } catch let error as RPCError where error.code == .unavailable {
                excluded.insert(pick.index)
                lastError = error
                continue
            }
            if let builtAt, ContinuousClock.now - builtAt > .milliseconds(1) {
                // The connect took a while: grpc-timeout says what is left now.
                headers = try requestHeaders(method, options: options, endpoint: pick.index, deadline: deadline)
            }
            // A unary call (whole body known) buffers its bounded, single response.
            let call = body == nil
                ? ClientCall(connection: connection, maxReceiveMessageSize: configuration.maxReceiveMessageSize)
                : ClientCall(unaryOn: connection, maxReceiveMessageSize: configuration.maxReceiveMessageSize)
            do {
                try await call.start(headers: headers, deadline: deadline, body: body)
                return (call, pick.index)
            } catch {
                // The connection closed between the pick and the stream: nothing was sent.
                excluded.insert(pick.index)
                lastError = RPCError(.unavailable, "the connection to \(configuration.endpoints[pick.index]) closed", cause: error)
            }
        }
        throw lastError ?? RPCError(.unavailable, "no endpoint took the call")
    }

    /// The first attempt of a unary call made by a caller on a loop that has a ready
    /// connection to the picked endpoint (a gateway handler): the stream opens synchronously,
    /// with no suspension and none of `startCall`'s async frames. `.started` or the pick to
    /// continue with in `startCall`.
    enum InPlaceStart {
        case started(ClientCall, Int)
        case fallBack(ClientLoadBalancer.Pick?)
    }

    func startCallInPlace(_ method: MethodDescriptor, options: CallOptions, deadline: ContinuousClock.Instant?,
                          body: [UInt8], excluded: inout Set<Int>, lastError: inout RPCError?) throws -> InPlaceStart {
        if Task.isCancelled { return .fallBack(nil) }
        if let deadline, deadline <= .now { return .fallBack(nil) }
        let pick = pool.pickEndpoint(excluding: excluded)
        guard pick.notBefore == nil, let connection = pool.readyConnection(to: pick.index), connection.loop.inEventLoop else {
            return .fallBack(pick)
        }
        let headers = try requestHeaders(method, options: options, endpoint: pick.index, deadline: deadline)
        let call = ClientCall(unaryOn: connection, maxReceiveMessageSize: configuration.maxReceiveMessageSize)
        do {
            try call.startInPlace(headers: headers, deadline: deadline, body: body)
            return .started(call, pick.index)
        } catch {
            // The connection closed between the pick and the stream: nothing was sent.
            excluded.insert(pick.index)
            lastError = RPCError(.unavailable, "the connection to \(configuration.endpoints[pick.index]) closed", cause: error)
            return .fallBack(nil)
        }
    }

    /// Metadata HTTP/2 cannot carry is refused before anything is sent: keys of `0-9 a-z - _ .`,
    /// text values of printable ASCII (binary goes in `-bin` keys).
    static func validate(_ metadata: Metadata) throws {
        for (key, value) in metadata {
            guard !key.isEmpty, key.utf8.allSatisfy({ ClientWireFormat.isValidKeyByte($0) }) else {
                throw RPCError(.internal, "invalid metadata key '\(key)': use 0-9, a-z, '-', '_' and '.'")
            }
            if case .string(let text) = value, !key.hasSuffix("-bin"),
               !text.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e }) {
                throw RPCError(.internal, "metadata '\(key)' has a value that is not printable ASCII; send bytes in a '-bin' key")
            }
        }
    }

    static func runStreaming<Result: Sendable>(
        _ call: ClientCall, maxSend: Int,
        requests: @escaping @Sendable (RPCMessageWriter<[UInt8]>) async throws -> Void,
        responses: @escaping @Sendable (ClientCall) async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let writer = RPCMessageWriter<[UInt8]> { message in
                    guard message.count <= maxSend else {
                        throw RPCError(.resourceExhausted, "request message of \(message.count) bytes exceeds the limit of \(maxSend) bytes")
                    }
                    try await call.write(framed: ClientWireFormat.frame(message))
                }
                do {
                    try await requests(writer)
                    call.finishRequests()
                } catch {
                    // The caller's request producer failed: the call cannot complete normally.
                    call.cancel(.cancelled, "the client's request stream failed")
                    throw error
                }
            }
            let result: Result
            do {
                result = try await responses(call)
            } catch {
                call.cancel()
                // A failure of the request producer explains the call better than the
                // cancellation it caused on the response side.
                let requestError: (any Error)? = await {
                    do { try await group.waitForAll(); return nil } catch { return error }
                }()
                if let requestError, !(requestError is RPCError) { throw requestError }
                throw error
            }
            let status = call.status
            if status == nil {
                // The caller stopped reading before the end: the call is over for us.
                call.cancel(.cancelled, "the client stopped reading responses")
            }
            // Whatever the request producer still waits for, the call is over: stop it.
            group.cancelAll()
            do {
                try await group.waitForAll()
            } catch is CancellationError {
            } catch let error as RPCError where error.code == .cancelled {
            } catch {
                // The producer failed on its own (not because we stopped it) on a call that
                // otherwise ended OK: that failure is the caller's to see.
                if status != nil && status?.error == nil { throw error }
            }
            if let error = status?.error { throw error }
            return result
        }
    }
}
