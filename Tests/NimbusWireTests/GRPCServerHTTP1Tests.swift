import NimbusGRPC
import NimbusHTTP
import NimbusProto
import NimbusRPCCore
import Synchronization
import Testing
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The gRPC server's HTTP/1.1 face, in process: operational endpoints, a fallback handler,
/// keep-alive, and a graceful shutdown that closes idle keep-alive connections.
@Suite struct GRPCServerHTTP1Tests {
    /// Sends `request` on a fresh blocking connection and reads until the server closes.
    private func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        // struct timeval { tv_sec, tv_usec } as two Ints (the C type's members are not visible
        // to this target under MemberImportVisibility).
        var timeout: (Int, Int) = (5, 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<(Int, Int)>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0)
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    @Test func operationalEndpointsAndFallbackOnTheGRPCPort() async throws {
        let ready = ReadyFlag()
        let server = try GRPCServer(
            configuration: GRPCServerConfiguration(),
            services: [],
            http1: { request in .json(200, #"{"path":"\#(request.path)"}"#) },
            operational: HTTPOperationalEndpoints(readiness: { ready.value }, metrics: { Array("# metrics\n".utf8) }))
        try await server.start()
        let port = server.port

        let health = try exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(health.hasPrefix("HTTP/1.1 200 OK") && health.hasSuffix("ok\n"))
        let notReady = try exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(notReady.hasPrefix("HTTP/1.1 503"))
        ready.value = true
        let isReady = try exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(isReady.hasPrefix("HTTP/1.1 200"))
        let metrics = try exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(metrics.contains("text/plain; version=0.0.4") && metrics.hasSuffix("# metrics\n"))
        let rest = try exchange(port: port, "GET /v1/things HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(rest.contains(#"{"path":"/v1/things"}"#))
        #expect(rest.split(separator: "HTTP/1.1 200 OK", omittingEmptySubsequences: false).count == 3)  // keep-alive, pipelined

        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func healthStatusDrivesReadinessByDefault() async throws {
        let server = try GRPCServer(configuration: GRPCServerConfiguration(), services: [])
        try await server.start()
        let port = server.port
        #expect(try exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        server.health.setStatus(.notServing)
        #expect(try exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 503"))
        await server.shutdown(gracePeriod: .seconds(1))
    }
}

final class ReadyFlag: Sendable {
    private let flag = Mutex(false)
    var value: Bool {
        get { flag.withLock { $0 } }
        set { flag.withLock { $0 = newValue } }
    }
}
