import NimbusConsole
import NimbusProtoJSON
import Testing
@testable import NimbusGateway

/// The console's static-file route: exact names only, the right types, strict headers, ETags.
@Suite struct ConsoleSiteTests {
    let site = ConsoleSite(files: [
        (path: "index.html", text: "<!doctype html><title>t</title>\n"),
        (path: "js/app.js", text: "export const x = 1;\n"),
        (path: "console.css", text: "body{}\n"),
        (path: "favicon.svg", text: "<svg/>\n"),
    ])

    func get(_ path: String, method: String = "GET", ifNoneMatch: String? = nil) throws -> GatewayHTTPResponse {
        try site.response(method: method, path: path, ifNoneMatch: ifNoneMatch)
    }

    @Test func servesIndexAtTheConsoleRootWithItsType() throws {
        let response = try get("/console/")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/html; charset=utf-8")
        #expect(response.body == Array("<!doctype html><title>t</title>\n".utf8))
        #expect(try get("/console/index.html").body == response.body)
    }

    @Test(arguments: [
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ])
    func contentTypes(path: String, type: String) throws {
        let response = try get(path)
        #expect(response.status == 200)
        #expect(response.header("content-type") == type)
    }

    @Test func everyFileCarriesTheSecurityHeaders() throws {
        for path in ["/console/", "/console/js/app.js", "/console/console.css"] {
            let response = try get(path)
            let csp = try #require(response.header("content-security-policy"))
            #expect(csp.contains("default-src 'none'"))
            #expect(csp.contains("script-src 'self'"))
            #expect(csp.contains("connect-src 'self'"))
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("*"))
            #expect(response.header("x-content-type-options") == "nosniff")
            #expect(response.header("x-frame-options") == "DENY")
            #expect(response.header("referrer-policy") == "no-referrer")
            #expect(response.header("cache-control") == "no-cache")
        }
    }

    @Test(arguments: [
        "/console/../v1/users", "/console/js/../index.html", "/console/%2e%2e/Package.swift", "/console/..%2fPackage.swift",
        "/console//etc/passwd", "/console/js", "/console/js/", "/console/missing.js", "/console/index.html/",
        "/console/INDEX.HTML", "/console/./index.html", "/console/index.html%00.js", "/console/\\..\\index.html",
    ])
    func namesOutsideTheTableAre404(path: String) throws {
        #expect(throws: HTTPProblem.self) { try get(path) }
        do { _ = try get(path) } catch let problem as HTTPProblem { #expect(problem.status == 404) }
    }

    @Test func etagsRevalidateWithoutABody() throws {
        let first = try get("/console/js/app.js")
        let etag = try #require(first.header("etag"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count == 26)
        let again = try get("/console/js/app.js", ifNoneMatch: etag)
        #expect(again.status == 304 && again.body.isEmpty)
        #expect(try get("/console/js/app.js", ifNoneMatch: "\"other\", W/\(etag)").status == 304)
        #expect(try get("/console/js/app.js", ifNoneMatch: "*").status == 304)
        #expect(try get("/console/js/app.js", ifNoneMatch: "\"other\"").status == 200)
        #expect(try get("/console/console.css").header("etag") != etag)
    }

    @Test func onlyGetAndHead() throws {
        #expect(try get("/console/", method: "HEAD").status == 200)
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            do {
                _ = try get("/console/", method: method)
                Issue.record("\(method) was served")
            } catch let problem as HTTPProblem {
                #expect(problem.status == 405)
                #expect(problem.headers.contains { $0.name == "Allow" && $0.value == "GET, HEAD" })
            }
        }
    }

    @Test func rootAndBareConsoleRedirect() throws {
        for path in ["/", "/console"] {
            let response = try get(path)
            #expect(response.status == 302)
            #expect(response.header("location") == "/console/")
        }
        #expect(ConsoleSite.owns("/console/x") && ConsoleSite.owns("/") && !ConsoleSite.owns("/consoles") && !ConsoleSite.owns("/v1/users"))
    }

    /// The embedded console as generated from Console/: an index that loads only module scripts
    /// from this origin, and no file that writes markup from strings.
    @Test func embeddedConsoleIsWhole() throws {
        let site = ConsoleSite()
        let index = String(decoding: try #require(site.files["index.html"]).body, as: UTF8.self)
        #expect(index.contains("<script type=\"module\" src=\"js/app.js\"></script>"))
        #expect(!index.contains("<script>") && !index.contains("style=\"") && !index.contains("http://") && !index.contains("https://"))
        #expect(site.files["js/app.js"] != nil && site.files["console.css"] != nil)
        for (path, file) in site.files where path.hasSuffix(".js") {
            let text = String(decoding: file.body, as: UTF8.self)
            for sink in [".innerHTML =", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                #expect(!text.contains(sink), "\(path) uses \(sink)")
            }
        }
    }
}

/// The route inside the gateway: it answers before authentication and the API keeps its 404s.
@Suite struct ConsoleRouteTests {
    @Test func gatewayServesTheConsoleWithoutAKey() async throws {
        let gateway = try GatewayTests().makeGateway()
        let page = await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: "/console/?x=1", peer: "127.0.0.1:1"))
        #expect(page.status == 200)
        #expect(page.header("content-security-policy") != nil)
        let traversal = await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: "/console/../v1/openapi.json", peer: "127.0.0.1:1"))
        #expect(traversal.status == 404)
        #expect(traversal.header("content-type") == "application/problem+json")
        let api = await gateway.handleHTTP(GatewayHTTPRequest(method: "GET", target: "/v1/instances/i-1", peer: "127.0.0.1:1"))
        #expect(api.status == 401)
    }
}
