import Logging
import NimbusHTTP

/// Passes a request and its response through to an upstream HTTP endpoint without buffering
/// either: the request body streams up as the client sends it, the response streams back as
/// the upstream sends it, each with backpressure (memory per request: the HTTP/1.1 server's
/// and client's high-water marks, about 1 MiB at most).
///
/// Headers: hop-by-hop fields (RFC 9110 §7.6.1, and those named in `Connection`) are removed
/// both ways; `Host` is forwarded as the client sent it (SigV4 signs it — storage verifies
/// against the client's Host), with `x-forwarded-host`, `x-forwarded-for`,
/// `x-forwarded-proto` and `x-request-id` added. The response carries `x-request-id`.
public struct UpstreamPassThrough: Sendable {
    public let client: HTTP1Client
    let logger: Logger

    public init(client: HTTP1Client, logger: Logger = Logger(label: "nimbus.gateway.passthrough")) {
        self.client = client
        self.logger = logger
    }

    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "expect", "content-length",
    ]

    /// Header fields to send on: hop-by-hop ones dropped (content-length is rewritten from the
    /// body's framing).
    public static func forwardable(_ headers: HTTPHeaders) -> HTTPHeaders {
        let named = Set(headers.values("connection").flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters().lowercased() })
        var out = HTTPHeaders()
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) { continue }
            out.add(name, value)
        }
        return out
    }

    public func forward(_ head: HTTPRequestHead, _ body: HTTPRequestBody, requestID: String, secure: Bool = false) async -> HTTPStreamingResponse {
        var headers = Self.forwardable(head.headers)
        headers.replace("x-request-id", requestID)
        if let host = head.headers["host"] { headers.replace("x-forwarded-host", host) }
        let clientIP = Gateway.clientIP(head.peer)
        if let earlier = head.headers["x-forwarded-for"] {
            headers.replace("x-forwarded-for", "\(earlier), \(clientIP)")
        } else {
            headers.replace("x-forwarded-for", clientIP)
        }
        headers.replace("x-forwarded-proto", secure ? "https" : "http")
        let hasBody = body.expectedLength != 0
        let request = HTTP1ClientRequest(
            method: head.method, target: head.target, headers: headers,
            body: hasBody ? .stream(length: body.expectedLength, { writer in
                for try await chunk in body { try await writer.write(chunk) }
            }) : .bytes([]))
        let response: HTTP1ClientResponse
        do {
            response = try await client.execute(request)
        } catch {
            logger.warning("pass-through failed", metadata: [
                "request.id": "\(requestID)", "upstream": "\(client.address)", "error": "\(error)",
            ])
            var failed = HTTPStreamingResponse.text(502, "upstream \(client.address) failed: \(error)\n")
            failed.headers.add("x-request-id", requestID)
            return failed
        }
        var responseHeaders = Self.forwardable(response.headers)
        responseHeaders.replace("x-request-id", requestID)
        let upstreamBody = response.body
        let length = upstreamBody.expectedLength
        if head.method == "HEAD" {
            // The upstream's Content-Length describes the GET it stands for.
            let announced = response.headers["content-length"].flatMap(Int.init)
            return HTTPStreamingResponse(status: response.status, headers: responseHeaders,
                                         body: .stream(length: announced, { _ in }))
        }
        return HTTPStreamingResponse(status: response.status, headers: responseHeaders, body: .stream(length: length, { writer in
            for try await chunk in upstreamBody { try await writer.write(chunk) }
        }))
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
