import NimbusConsole
import NimbusPlatform
import NimbusProtoJSON
import NimbusRPCCore

/// The web console: static files embedded in the binary (`Console/`, generated into
/// `ConsoleAssets` by `make console`), served under `/console/`. A request names a file exactly
/// or gets 404: the path is looked up in a table, never joined onto a directory, so there is no
/// traversal to refuse. Every file goes out with a strict Content-Security-Policy (scripts, styles
/// and requests only from this origin, no inline code) and revalidates by ETag.
struct ConsoleSite: Sendable {
    struct File: Sendable {
        var contentType: String
        var etag: String
        var body: [UInt8]
    }

    static let prefix = "/console/"

    /// Scripts, styles, images and API calls from this origin only; no inline script or style
    /// element, no plugins, no framing, no form posts elsewhere.
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
        "connect-src 'self'", "font-src 'self'", "manifest-src 'self'", "base-uri 'none'",
        "form-action 'self'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    static let securityHeaders: [(name: String, value: String)] = [
        ("content-security-policy", contentSecurityPolicy),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]

    let files: [String: File]

    init(files assets: [(path: String, text: String)] = ConsoleAssets.files) {
        var files: [String: File] = [:]
        for asset in assets {
            let body = Array(asset.text.utf8)
            let digest = SHA256.hash(body).prefix(12).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            files[asset.path] = File(contentType: Self.contentType(forPath: asset.path), etag: "\"\(digest)\"", body: body)
        }
        self.files = files
    }

    /// Whether the console answers this path (`/`, `/console` and everything under `/console/`).
    static func owns(_ path: String) -> Bool {
        path == "/" || path == "/console" || path.hasPrefix(prefix)
    }

    /// The response for a path `owns` accepted: a file, 304, a redirect to the console, or a
    /// problem (404 for a name not in the table, 405 for a method other than GET and HEAD).
    func response(method: String, path: String, ifNoneMatch: String?) throws -> GatewayHTTPResponse {
        guard method == "GET" || method == "HEAD" else {
            throw HTTPProblem(status: 405, code: .unimplemented, detail: "the console is read with GET", headers: [("Allow", "GET, HEAD")])
        }
        if path == "/" || path == "/console" {
            return GatewayHTTPResponse(status: 302, headers: [("location", Self.prefix), ("cache-control", "no-cache")])
        }
        var name = String(path.dropFirst(Self.prefix.count))
        if name.isEmpty { name = "index.html" }
        guard let file = files[name] else {
            throw HTTPProblem(status: 404, code: .notFound, detail: "the console has no file \(name.prefix(200))")
        }
        // no-cache: keep a copy but ask each time; the ETag makes the answer a bodiless 304.
        var headers: [(name: String, value: String)] = [("etag", file.etag), ("cache-control", "no-cache")]
        headers.append(contentsOf: Self.securityHeaders)
        if let ifNoneMatch, Self.matches(ifNoneMatch, etag: file.etag) {
            return GatewayHTTPResponse(status: 304, headers: headers)
        }
        headers.insert(("content-type", file.contentType), at: 0)
        return GatewayHTTPResponse(status: 200, headers: headers, body: file.body)
    }

    /// `If-None-Match`: `*` or a list of tags, weak ones compared weakly (RFC 9110 §13.1.2).
    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingSpaces()
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }

    static func contentType(forPath path: String) -> String {
        switch path.split(separator: ".").last.map(String.init) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: "text/plain; charset=utf-8"
        }
    }
}

extension Gateway {
    /// Built once, on the first console request.
    static let console = ConsoleSite()
}
