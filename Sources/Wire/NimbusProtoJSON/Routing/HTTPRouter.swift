import NimbusRPCCore

extension ServiceDescriptor {
    /// The wire descriptor (`/<service>/<method>` and kind) of one of this service's methods.
    public func rpcMethod(_ method: ServiceMethodDescriptor) -> MethodDescriptor {
        let kind: RPCKind = switch (method.clientStreaming, method.serverStreaming) {
        case (false, false): .unary
        case (true, false): .clientStreaming
        case (false, true): .serverStreaming
        case (true, true): .bidirectionalStreaming
        }
        return MethodDescriptor(service: fullName, method: method.name, kind: kind)
    }
}

/// One REST binding of an RPC: verb + path template → `/<service>/<method>`.
public struct RESTRoute: Sendable {
    public var service: ServiceDescriptor
    public var method: ServiceMethodDescriptor
    public var rule: HTTPRule
    public var template: PathTemplate

    /// The gRPC method the route forwards to.
    public var rpcMethod: MethodDescriptor { service.rpcMethod(method) }
}

/// A request matched to a route, with the path variables it bound (decoded).
public struct RouteMatch: Sendable {
    public var route: RESTRoute
    public var pathBindings: [(fieldPath: [String], value: String)]
}

/// Maps an HTTP verb and path to the route declared for it in the protos' `google.api.http`
/// options. More specific templates win (more literal segments, then fewer `**`).
public struct HTTPRouter: Sendable {
    public internal(set) var routes: [RESTRoute] = []

    /// Routes for every method with an HTTP rule in `services` (all services when nil).
    /// Client- and bidi-streaming methods have no REST form and are skipped.
    public init(descriptors: DescriptorSet, services: Set<String>? = nil) throws {
        for service in descriptors.services.values.sorted(by: { $0.fullName < $1.fullName }) {
            if let services, !services.contains(service.fullName) { continue }
            for method in service.methods where !method.clientStreaming {
                guard let rule = method.httpRule else { continue }
                for binding in rule.allBindings {
                    do {
                        let template = try PathTemplate(binding.path)
                        routes.append(RESTRoute(service: service, method: method, rule: binding, template: template))
                    } catch {
                        throw DescriptorError("\(service.fullName).\(method.name): \(error)")
                    }
                }
            }
        }
        routes.sort { a, b in
            let sa = a.template.specificity, sb = b.template.specificity
            return sa.literals != sb.literals ? sa.literals > sb.literals : sa.wildcards < sb.wildcards
        }
    }

    public enum Outcome: Sendable {
        case matched(RouteMatch)
        /// The path exists for other verbs (→ 405 with `Allow`).
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// `path` is the raw request target path (no query), still percent-encoded.
    public func route(method: String, path: String) -> Outcome {
        guard let (segments, verb) = Self.split(path) else { return .notFound }
        // OpenAPI clients send a multi-segment variable (`{name=projects/*}`) as one encoded
        // segment (`projects%2Fp1`): also read the path with those slashes restored.
        let unescaped = path.contains("%2F") || path.contains("%2f")
            ? Self.percentDecode(path).flatMap { Self.split($0.replacingPercent()) } : nil
        var allowed: [String] = []
        for route in routes {
            var bindings = route.template.match(segments.decoded, verb: nil)
            if bindings == nil, let verb, route.template.verb != nil {
                bindings = route.template.match(segments.decodedWithoutVerb, verb: verb)
            }
            if bindings == nil, let (alternative, altVerb) = unescaped {
                bindings = route.template.match(alternative.decoded, verb: nil)
                if bindings == nil, let altVerb, route.template.verb != nil {
                    bindings = route.template.match(alternative.decodedWithoutVerb, verb: altVerb)
                }
            }
            guard let bindings else { continue }
            if route.rule.method == method || (method == "HEAD" && route.rule.method == "GET") {
                return .matched(RouteMatch(route: route, pathBindings: bindings))
            }
            if !allowed.contains(route.rule.method) { allowed.append(route.rule.method) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    struct SplitPath {
        var decoded: [String]
        var decodedWithoutVerb: [String]
    }

    /// Splits on `/` before decoding (so `%2F` stays inside a segment) and peels a `:verb`
    /// off the last segment as an alternative reading.
    static func split(_ path: String) -> (SplitPath, String?)? {
        guard path.hasPrefix("/") else { return nil }
        let raw = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var decoded: [String] = []
        for segment in raw {
            guard let value = percentDecode(segment) else { return nil }
            decoded.append(value)
        }
        var withoutVerb = decoded
        var verb: String?
        if let last = raw.last, let colon = last.lastIndex(of: ":") {
            verb = percentDecode(String(last[last.index(after: colon)...]))
            withoutVerb[withoutVerb.count - 1] = percentDecode(String(last[..<colon])) ?? ""
        }
        return (SplitPath(decoded: decoded, decodedWithoutVerb: withoutVerb), verb)
    }

    /// RFC 3986 percent-decoding; nil on a bad escape or invalid UTF-8. `plusIsSpace` for query strings.
    static func percentDecode(_ text: String, plusIsSpace: Bool = false) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return text
        }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        func hex(_ byte: UInt8?) -> UInt8? {
            guard let byte else { return nil }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = hex(iterator.next()), let low = hex(iterator.next()) else { return nil }
                bytes.append(high << 4 | low)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension String {
    /// After decoding once, a literal `%` must not be decoded again by `split`.
    fileprivate func replacingPercent() -> String {
        var out = ""
        for c in self { if c == "%" { out += "%25" } else { out.append(c) } }
        return out
    }
}

extension HTTPRouter {
    /// Drops routes a server must not expose (the gateway's internal methods).
    public mutating func removeRoutes(where predicate: (RESTRoute) -> Bool) {
        routes.removeAll(where: predicate)
    }
}
