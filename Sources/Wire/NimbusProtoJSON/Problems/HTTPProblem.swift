import NimbusRPCCore

/// An error as the REST face shows it: an HTTP status and an RFC 9457 `application/problem+json`
/// body. `code` is the gRPC status name, so REST and gRPC clients see the same vocabulary.
public struct HTTPProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: RPCCode
    public var detail: String
    /// Extra response headers (`Retry-After`, `Allow`, `WWW-Authenticate`).
    public var headers: [(name: String, value: String)]
    /// What went wrong underneath, for the log only (never sent to the client).
    public var cause: String?

    public init(status: Int, code: RPCCode, detail: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
    }

    /// The HTTP status Google's API design guide gives each gRPC code.
    public init(_ error: RPCError) {
        self.init(status: Self.httpStatus(for: error.code), code: error.code, detail: error.message)
        if error.code == .unauthenticated { headers.append(("WWW-Authenticate", "Bearer")) }
    }

    public static func invalidArgument(_ detail: String) -> HTTPProblem {
        HTTPProblem(status: 400, code: .invalidArgument, detail: detail)
    }

    public static func == (lhs: HTTPProblem, rhs: HTTPProblem) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.detail == rhs.detail
            && lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    public var description: String { "\(status) \(code): \(detail)" }

    public static let contentType = "application/problem+json"

    /// google.rpc.Code → HTTP, per https://cloud.google.com/apis/design/errors.
    public static func httpStatus(for code: RPCCode) -> Int {
        switch code {
        case .ok: 200
        case .cancelled: 499
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        case .deadlineExceeded: 504
        default: 500   // UNKNOWN, INTERNAL, DATA_LOSS and codes we do not know
        }
    }

    /// And back, for a gRPC client calling something that only spoke HTTP (the gRPC spec's table).
    public static func rpcCode(forHTTPStatus status: Int) -> RPCCode {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 499: "Client Closed Request"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Error"
        }
    }

    /// `urn:nimbus:problem:not-found` — a stable identifier per gRPC code.
    public var type: String {
        "urn:nimbus:problem:" + code.description.lowercased().replacingUnderscores()
    }

    /// The problem document. `instance` is the request path; `requestId` ties it to the logs.
    public func body(instance: String? = nil, requestID: String? = nil) -> JSONValue {
        var object: JSONObject = [
            "type": .string(type),
            "title": .string(Self.reasonPhrase(status)),
            "status": .integer(status),
            "detail": .string(detail),
            "code": .string(code.description),
        ]
        if let instance { object["instance"] = .string(instance) }
        if let requestID { object["requestId"] = .string(requestID) }
        return .object(object)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
