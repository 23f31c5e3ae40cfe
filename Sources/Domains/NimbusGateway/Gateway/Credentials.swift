import NimbusRPCCore

/// Where an external caller's API key comes from: `Authorization: Bearer <key>` or `x-api-key`.
public enum Credentials {
    public enum Outcome: Sendable, Equatable {
        case key(String)
        case missing
        case malformed(String)
    }

    /// `authorization` and `x-api-key` header values (HTTP/1.1 headers or gRPC metadata).
    public static func extract(authorization: String?, apiKeyHeader: String?) -> Outcome {
        if let authorization {
            let trimmed = authorization.trimmingSpaces()
            guard let space = trimmed.utf8.firstIndex(of: 0x20), isBearer(trimmed.utf8[..<space]) else {
                return .malformed("the Authorization header must be 'Bearer <api key>'")
            }
            let key = trimmed[trimmed.utf8.index(after: space)...].trimmingSpaces()
            guard isPlausibleKey(key) else { return .malformed("the bearer token is not an API key") }
            return .key(key)
        }
        if let apiKeyHeader {
            let key = apiKeyHeader.trimmingSpaces()
            guard isPlausibleKey(key) else { return .malformed("the x-api-key header is not an API key") }
            return .key(key)
        }
        return .missing
    }

    public static func extract(from metadata: Metadata) -> Outcome {
        extract(authorization: metadata["authorization"], apiKeyHeader: metadata["x-api-key"])
    }

    /// `bearer` in any case, compared byte-wise (no lowercased copy per request).
    static func isBearer(_ scheme: Substring.UTF8View.SubSequence) -> Bool {
        guard scheme.count == 6 else { return false }
        return zip(scheme, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    /// Cheap shape check before any RPC: visible ASCII, bounded length.
    static func isPlausibleKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 512 && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// The error for a call without usable credentials.
    public static func error(for outcome: Outcome) -> RPCError {
        switch outcome {
        case .missing: RPCError(.unauthenticated, "an API key is required: send Authorization: Bearer <api key>")
        case .malformed(let why): RPCError(.unauthenticated, why)
        case .key: RPCError(.unauthenticated, "invalid API key")
        }
    }
}
