import NimbusEventLoop
import NimbusHTTP
import Synchronization
import Testing
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The HTTP/1.1 client against the streaming server, over TCP and a Unix-domain socket.
@Suite(.serialized) struct HTTP1ClientTests {
    /// An upstream that echoes the request body back (streamed, chunked) and answers `/n/<k>`
    /// with k bytes of known length.
    private static let echo: HTTPStreamingHandler = { head, body in
        if head.path.hasPrefix("/n/"), let n = Int(head.path.dropFirst(3)) {
            return HTTPStreamingResponse(status: 200, headers: ["x-path": String(head.path)],
                                         body: .stream(length: n, { writer in
                                             var left = n
                                             while left > 0 {
                                                 let piece = min(left, 64 << 10)
                                                 try await writer.write([UInt8](repeating: 7, count: piece))
                                                 left -= piece
                                             }
                                         }))
        }
        return HTTPStreamingResponse(status: 200, headers: ["x-method": head.method], body: .stream(length: nil, { writer in
            for try await chunk in body { try await writer.write(chunk) }
        }))
    }

    private func serve(_ configuration: HTTPServerConfiguration = HTTPServerConfiguration()) async throws -> HTTPServer {
        let server = try HTTPServer(configuration: configuration, router: NoHTTP2(), streaming: Self.echo)
        try await server.start()
        return server
    }

    @Test func bytesAndStreamsBothWaysWithKeepAlive() async throws {
        let server = try await serve()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try HTTP1Client(address: try SocketAddress(host: "127.0.0.1", port: server.port))

        let small = try await client.execute(HTTP1ClientRequest(method: "POST", target: "/echo", body: .bytes(Array("hello".utf8))))
        #expect(small.status == 200 && small.headers["x-method"] == "POST")
        #expect(try await small.body.collect(upTo: 100) == Array("hello".utf8))
        #expect(client.idleConnectionCount == 1)

        // 8 MiB streamed up in pieces (chunked), streamed back.
        let piece = [UInt8](repeating: 3, count: 256 << 10)
        let big = try await client.execute(HTTP1ClientRequest(method: "PUT", target: "/echo", body: .stream(length: nil, { writer in
            for _ in 0..<32 { try await writer.write(piece) }
        })))
        var total = 0
        for try await chunk in big.body { total += chunk.count }
        #expect(total == 8 << 20)

        let known = try await client.execute(HTTP1ClientRequest(method: "GET", target: "/n/1000000"))
        #expect(known.headers["content-length"] == "1000000")
        #expect(try await known.body.collect(upTo: 2 << 20).count == 1_000_000)
        let head = try await client.execute(HTTP1ClientRequest(method: "HEAD", target: "/n/1000000"))
        #expect(head.headers["content-length"] == "1000000")
        #expect(try await head.body.collect(upTo: 10).isEmpty)
        #expect(client.idleConnectionCount == 1)  // one connection served them all
    }

    @Test func unixDomainSocket() async throws {
        let path = "/tmp/nimbus-http1-client-\(getpid()).sock"
        var configuration = HTTPServerConfiguration()
        configuration.unixSocketPath = path
        let server = try await serve(configuration)
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try HTTP1Client(address: try .unix(path))
        let response = try await client.execute(HTTP1ClientRequest(method: "POST", target: "/echo", body: .bytes(Array("over unix".utf8))))
        #expect(try await response.body.collect(upTo: 100) == Array("over unix".utf8))
        let again = try await client.execute(HTTP1ClientRequest(method: "GET", target: "/n/5"))
        #expect(try await again.body.collect(upTo: 100).count == 5)
    }

    @Test func aSlowResponseConsumerStopsTheUpstream() async throws {
        let produced = Atomic<Int>(0)
        let server = try HTTPServer(configuration: HTTPServerConfiguration(), router: NoHTTP2(), streaming: { _, _ in
            HTTPStreamingResponse(status: 200, body: .stream(length: nil, { writer in
                let piece = [UInt8](repeating: 1, count: 64 << 10)
                for _ in 0..<1024 {  // 64 MiB if nobody pushed back
                    try await writer.write(piece)
                    produced.add(piece.count, ordering: .relaxed)
                }
            }))
        })
        try await server.start()
        defer { Task { await server.shutdown(gracePeriod: .seconds(1)) } }
        let client = try HTTP1Client(address: try SocketAddress(host: "127.0.0.1", port: server.port))
        let response = try await client.execute(HTTP1ClientRequest(method: "GET", target: "/firehose"))
        try await Task.sleep(for: .milliseconds(500))
        // Client and server high-water marks plus the kernel's socket buffers, far below 64 MiB.
        #expect(produced.load(ordering: .relaxed) < 16 << 20, "the upstream kept writing: \(produced.load(ordering: .relaxed))")
        var total = 0
        for try await chunk in response.body { total += chunk.count }
        #expect(total == 64 << 20)
    }

    @Test func connectionRefusedIsAClearError() async throws {
        let client = try HTTP1Client(address: try SocketAddress(host: "127.0.0.1", port: 1))
        await #expect(throws: HTTP1ClientError.self) {
            _ = try await client.execute(HTTP1ClientRequest(method: "GET", target: "/"))
        }
    }
}
