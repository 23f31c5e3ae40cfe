import Foundation
import NimbusGRPC
import NimbusProtoJSON
import NimbusRPCCore
import NimbusTestSupport
import Testing
@testable import NimbusGateway

/// The gateway's REST face on the real HTTP/1.1 + HTTP/2 server, driven by curl.
@Suite(.serialized) struct GatewayServerTests {
    func withServer(tls: GRPCServerConfiguration.TLS? = nil, _ body: (Int) async throws -> Void) async throws {
        var configuration = Gateway.Configuration()
        configuration.accessLog = false
        let identity = TestIdentity()
        let gateway = try Gateway(
            configuration: configuration, descriptors: Fixtures.descriptors,
            upstreams: ["gatewaytest.v1.Instances": LoopbackTransport(TestInstances.methods)],
            authenticator: IdentityAuthenticator(transport: LoopbackTransport(identity.methods)) { TestIdentity.servicePrincipal },
            limits: GatewayRateLimits(perKey: nil, perIP: nil))
        var serverConfiguration = GRPCServerConfiguration(host: "127.0.0.1", port: 0, tls: tls)
        serverConfiguration.accessLog = false
        let server = try GRPCServer(configuration: serverConfiguration, services: gateway.proxyServices(), http1: gateway.http1Handler)
        try await server.start()
        do {
            try await body(server.port)
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Runs curl, returning status, headers (lowercased names) and body.
    func curl(_ arguments: [String]) throws -> (status: Int, headers: [String: String], body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-i", "--max-time", "10"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let sections = text.components(separatedBy: "\r\n\r\n")
        let head = sections.first ?? ""
        let body = sections.dropFirst().joined(separator: "\r\n\r\n")
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, body)
    }

    @Test func restThroughTheRealServer() async throws {
        try await withServer { port in
            let base = "http://127.0.0.1:\(port)"
            let ok = try curl(["-H", "Authorization: Bearer nmb_good_secret", "-H", "x-request-id: curl-1", "\(base)/v1/instances/i-7"])
            #expect(ok.status == 200)
            #expect(ok.headers["x-request-id"] == "curl-1")
            #expect(ok.headers["content-type"] == "application/json")
            let json = try JSONParser.parse(ok.body)
            #expect(json["id"] == .string("i-7"))
            #expect(json["labels"]?["principal"] == .string("signed:u-1"))

            let denied = try curl(["\(base)/v1/instances/i-7"])
            #expect(denied.status == 401)
            #expect(denied.headers["content-type"] == "application/problem+json")
            #expect(denied.headers["www-authenticate"] == "Bearer")

            let openapi = try curl(["\(base)/v1/openapi.json"])
            #expect(openapi.status == 200)
            #expect(try JSONParser.parse(openapi.body)["openapi"] == .string("3.1.0"))

            let h2 = try curl(["--http2-prior-knowledge", "-H", "Authorization: Bearer nmb_good_secret", "\(base)/v1/instances/i-8"])
            // REST over h2c: plain HTTP/2 requests reach the same handler as HTTP/1.1.
            #expect(h2.status == 200, "REST over h2c: \(h2.status) \(h2.body)")
            #expect(try JSONParser.parse(h2.body)["id"] == .string("i-8"))
            let health = try curl(["\(base)/healthz"])
            #expect(health.status == 200)

            let malformed = try curl(["-X", "POST", "-H", "Authorization: Bearer nmb_good_secret", "-H", "content-type: application/json",
                                      "--data", "{\"instance\": [}", "\(base)/v1/instances"])
            #expect(malformed.status == 400)
            #expect(malformed.body.contains("column"))
        }
    }
}

extension GatewayServerTests {
    /// With a certificate the same port speaks TLS, ALPN h2 for gRPC and http/1.1 for REST.
    @Test func restOverTLSWithALPN() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-tls-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path, key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        let tls = GRPCServerConfiguration.TLS(certificateChainPath: cert, privateKeyPath: key, requireClientCertificate: false)
        try await withServer(tls: tls) { port in
            let https = try curl(["--cacert", cert, "--http1.1", "-H", "Authorization: Bearer nmb_good_secret",
                                  "https://127.0.0.1:\(port)/v1/instances/tls-1"])
            #expect(https.status == 200)
            #expect(try JSONParser.parse(https.body)["id"] == .string("tls-1"))
        }
    }
}

@Suite struct StatusMessageEdgeTests {
    /// An upstream error message ending in a space ("unknown permissions: ") once made the
    /// gateway's nghttp2 client reset the stream: such edges must be percent-encoded.
    @Test func edgeSpacesArePercentEncoded() {
        #expect(GRPCStatusMessage.encode("unknown permissions: ") == "unknown permissions:%20")
        #expect(GRPCStatusMessage.encode(" x") == "%20x")
        #expect(GRPCStatusMessage.encode("a b") == "a b")
        #expect(GRPCStatusMessage.decode(GRPCStatusMessage.encode(" both ")) == " both ")
    }
}
