import Logging
import NimbusHTTP
import NimbusProtoJSON
import NimbusRPCCore

extension Gateway {
    /// Serves one REST request: `/v1/openapi.json`, or a route from the protos' HTTP rules.
    /// Never throws: every failure is an `application/problem+json` response.
    public func handleHTTP(_ request: GatewayHTTPRequest) async -> GatewayHTTPResponse {
        let started = ContinuousClock.now
        let identity = RequestIdentity(requestID: request.header("x-request-id"), traceparent: request.header("traceparent"))
        var routeLabel = "unmatched"
        var caller: AuthenticatedCaller?
        var response: GatewayHTTPResponse
        var failure: String?
        do {
            response = try await serveHTTP(request, identity: identity, caller: &caller, routeLabel: &routeLabel)
        } catch let problem as HTTPProblem {
            response = problemResponse(problem, request: request, identity: identity)
            failure = problem.cause.map { "\(problem.detail): \($0)" }
        } catch {
            let rpcError = RPCError(mapping: error)
            response = problemResponse(HTTPProblem(rpcError), request: request, identity: identity)
            failure = "\(error)"
        }
        response.headers.append(("x-request-id", identity.requestID))
        applyCORS(request, to: &response)
        let elapsed = ContinuousClock.now - started
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        metrics.record(face: "rest", route: routeLabel, status: String(response.status), nanoseconds: nanoseconds)
        if let failure, response.status >= 500 {
            logger.warning("upstream failure", metadata: ["request.id": "\(identity.requestID)", "error": "\(failure)"])
        }
        if configuration.accessLog {
            logger.info("http", metadata: [
                "http.method": "\(request.method)",
                "http.path": "\(request.path.prefix(256))",
                "http.route": "\(routeLabel)",
                "http.status": "\(response.status)",
                "duration.ms": "\(Double(nanoseconds) / 1e6)",
                "request.id": "\(identity.requestID)",
                "trace.id": "\(identity.traceID)",
                "client.ip": "\(Self.clientIP(request.peer))",
                "user.id": "\(caller?.userID ?? "")",
                "tenant.id": "\(caller?.tenantID ?? "")",
            ])
        }
        return response
    }

    private func serveHTTP(_ request: GatewayHTTPRequest, identity: RequestIdentity,
                           caller: inout AuthenticatedCaller?, routeLabel: inout String) async throws -> GatewayHTTPResponse {
        if request.method == "OPTIONS", !configuration.corsOrigins.isEmpty, request.header("origin") != nil,
           request.header("access-control-request-method") != nil {
            routeLabel = "preflight"
            return GatewayHTTPResponse(status: 204)
        }
        if ConsoleSite.owns(request.path) {
            routeLabel = "console"
            return try Self.console.response(method: request.method, path: request.path, ifNoneMatch: request.header("if-none-match"))
        }
        if request.path == "/v1/openapi.json" {
            guard request.method == "GET" || request.method == "HEAD" else {
                throw HTTPProblem(status: 405, code: .unimplemented, detail: "use GET", headers: [("Allow", "GET, HEAD")])
            }
            routeLabel = "openapi"
            return GatewayHTTPResponse(status: 200, headers: [("content-type", "application/json")], body: openAPIDocument)
        }
        guard request.body.count <= configuration.maxRequestBodyBytes else {
            throw HTTPProblem(status: 413, code: .resourceExhausted,
                              detail: "request body of \(request.body.count) bytes exceeds the limit of \(configuration.maxRequestBodyBytes)")
        }
        let match: RouteMatch
        switch router.route(method: request.method, path: request.path) {
        case .matched(let found): match = found
        case .methodNotAllowed(let allowed):
            throw HTTPProblem(status: 405, code: .unimplemented,
                              detail: "\(request.method) is not allowed on \(request.path.prefix(200)); use \(allowed.joined(separator: ", "))",
                              headers: [("Allow", allowed.joined(separator: ", "))])
        case .notFound:
            throw HTTPProblem(status: 404, code: .notFound, detail: "no route for \(request.method) \(request.path.prefix(200))")
        }
        let route = match.route
        routeLabel = "\(route.rule.method) \(route.template.text)"
        do {
            caller = try await admit(
                method: route.rpcMethod.path,
                credentials: Credentials.extract(authorization: request.header("authorization"), apiKeyHeader: request.header("x-api-key")),
                peer: request.peer, identity: identity)
        } catch let error as RPCError {
            throw problem(from: error)
        }
        let message = try rest.requestMessage(for: match, query: request.query, body: request.body,
                                              contentType: request.header("content-type"))
        var incoming = Metadata()
        if let tracestate = request.header("tracestate") { incoming.add("tracestate", tracestate) }
        let metadata = Self.forwardedMetadata(incoming, identity: identity, caller: caller, peer: request.peer)
        let options = CallOptions(metadata: metadata, timeout: configuration.restTimeout)
        let transport = try upstream(for: route.service.fullName)
        let body: [UInt8]
        do {
            if route.method.serverStreaming {
                let outputType = route.method.outputType
                let rest = self.rest
                let messages = try await transport.streaming(route.rpcMethod, options: options, requests: { writer in
                    try await writer.write(message)
                }, responses: { stream in
                    var collected: [JSONValue] = []
                    for try await response in stream {
                        collected.append(try rest.transcoder.json(fromProtobuf: response, messageType: outputType))
                        if collected.count > 10_000 { throw RPCError(.resourceExhausted, "too many streamed responses for REST") }
                    }
                    return collected
                })
                body = JSONWriter.serialize(.array(messages))
            } else {
                let response = try await unaryUpstream(route.rpcMethod, request: message, options: options)
                didForward(route.rpcMethod)
                body = try rest.responseBody(for: route, response: response.message)
            }
        } catch let error as RPCError {
            throw problem(from: error)
        } catch let error as TranscodingError {
            throw HTTPProblem(status: 502, code: .internal, detail: "the service answered with a malformed message: \(error)")
        }
        return GatewayHTTPResponse(status: 200, headers: [("content-type", "application/json")], body: body)
    }

    /// Maps an RPC failure to its problem, carrying `retry-after` over as `Retry-After`.
    func problem(from error: RPCError) -> HTTPProblem {
        var problem = HTTPProblem(error)
        problem.cause = error.cause.map { "\($0)" }
        if let retryAfter = error.metadata["retry-after"] { problem.headers.append(("Retry-After", retryAfter)) }
        return problem
    }

    func problemResponse(_ problem: HTTPProblem, request: GatewayHTTPRequest, identity: RequestIdentity) -> GatewayHTTPResponse {
        let body = problem.body(instance: String(request.path.prefix(512)), requestID: identity.requestID)
        var headers: [(name: String, value: String)] = [("content-type", HTTPProblem.contentType)]
        headers.append(contentsOf: problem.headers)
        return GatewayHTTPResponse(status: problem.status, headers: headers, body: JSONWriter.serialize(body))
    }

    /// CORS is off unless origins are configured; then matching origins get the headers.
    func applyCORS(_ request: GatewayHTTPRequest, to response: inout GatewayHTTPResponse) {
        guard !configuration.corsOrigins.isEmpty, let origin = request.header("origin") else { return }
        let allowAny = configuration.corsOrigins.contains("*")
        guard allowAny || configuration.corsOrigins.contains(origin) else { return }
        response.headers.append(("Access-Control-Allow-Origin", allowAny ? "*" : origin))
        response.headers.append(("Vary", "Origin"))
        response.headers.append(("Access-Control-Expose-Headers", "x-request-id, retry-after"))
        if response.status == 204 && request.method == "OPTIONS" {
            response.headers.append(("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE"))
            response.headers.append(("Access-Control-Allow-Headers", "authorization, content-type, x-api-key, x-request-id, traceparent"))
            response.headers.append(("Access-Control-Max-Age", "600"))
        }
    }
}
