@testable import NimbusGRPC
@testable import NimbusHTTP
import NimbusRPCCore
import Testing

@Suite("Client request headers")
struct ClientRequestHeadersTests {
    @Test func prefixThenPerRequestFieldsInOrder() {
        let prefix = HTTP2ClientHeaderPrefix([(":method", "POST"), (":path", "/a.B/C"), ("te", "trailers")])
        var headers = HTTP2ClientRequestHeaders(prefix: prefix)
        headers.add("x-one", "1")
        headers.add("x-empty", "")
        headers.add("x-written", valueLength: 3) { buffer in buffer.initialize(fromContentsOf: "abc".utf8) }
        #expect(headers.count == 6)
        #expect(headers.fields == [
            HTTP2ClientHeader(":method", "POST"), HTTP2ClientHeader(":path", "/a.B/C"), HTTP2ClientHeader("te", "trailers"),
            HTTP2ClientHeader("x-one", "1"), HTTP2ClientHeader("x-empty", ""), HTTP2ClientHeader("x-written", "abc"),
        ])
        // The nghttp2 view carries the same bytes.
        let viaNVs = headers.submittedFields
        #expect(viaNVs == headers.fields)
    }

    @Test func plainFieldListRoundTrips() {
        let list = [HTTP2ClientHeader(":method", "GET"), HTTP2ClientHeader("x-a", String(repeating: "v", count: 300))]
        #expect(HTTP2ClientRequestHeaders(list).fields == list)
    }

    @Test func timeoutDigitsMatchTheSharedFormatter() {
        let durations: [Duration] = [
            .nanoseconds(1), .nanoseconds(99_999_999), .nanoseconds(100_000_000), .microseconds(123_456),
            .milliseconds(10), .seconds(10), .seconds(99_999_999), .seconds(100_000_000), .seconds(3600 * 100_000_000),
            .zero, .seconds(-1), Duration(secondsComponent: 0, attosecondsComponent: 1), .milliseconds(1500),
        ]
        for duration in durations {
            var digits = ClientTimeoutDigits(duration)
            let text = String(unsafeUninitializedCapacity: digits.count) { digits.write(into: $0) }
            #expect(text == GRPCTimeout.format(duration), "\(duration)")
        }
    }

    @Test func base64MatchesTheSharedEncoder() {
        for count in 0..<12 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = String(unsafeUninitializedCapacity: ClientBase64.encodedLength(count)) { ClientBase64.encode(bytes, into: $0) }
            #expect(text == GRPCBase64.encode(bytes))
        }
    }

    @Test func callHeadersCarryPrefixTimeoutAndMetadata() throws {
        let channel = try GRPCChannel(endpoints: "127.0.0.1:1")
        defer { channel.close() }
        var metadata = Metadata()
        metadata.add("x-a", "1")
        metadata.add("content-type", "text/plain")  // transport-owned: skipped
        metadata.add("x-b-bin", binary: [1, 2, 3, 4])
        metadata.add("x-c-bin", "text")  // text in a -bin key goes as its bytes, base64
        let method = MethodDescriptor(service: "a.B", method: "C", kind: .unary)
        let headers = try channel.requestHeaders(method, options: CallOptions(metadata: metadata), endpoint: 0,
                                                 deadline: .now + .seconds(5))
        let fields = headers.fields
        #expect(fields.prefix(4).map(\.name) == [":method", ":scheme", ":path", ":authority"])
        #expect(fields.first { $0.name == ":path" }?.value == "/a.B/C")
        #expect(fields.first { $0.name == ":authority" }?.value == "127.0.0.1:1")
        #expect(fields.filter { $0.name == "content-type" }.map(\.value) == ["application/grpc"])
        let timeout = try #require(fields.first { $0.name == "grpc-timeout" }?.value)
        let parsed = try #require(GRPCTimeout.parse(timeout))
        #expect(parsed > .seconds(4) && parsed <= .seconds(5))
        #expect(fields.first { $0.name == "x-a" }?.value == "1")
        #expect(fields.first { $0.name == "x-b-bin" }?.value == GRPCBase64.encode([1, 2, 3, 4]))
        #expect(fields.first { $0.name == "x-c-bin" }?.value == GRPCBase64.encode(Array("text".utf8)))
        // The prefix is built once per method and endpoint.
        let again = try channel.requestHeaders(method, options: CallOptions(), endpoint: 0, deadline: nil)
        #expect(again.prefix === headers.prefix)
        #expect(!again.fields.contains { $0.name == "grpc-timeout" })
    }

    @Test func callHeadersRefuseMetadataHTTP2CannotCarry() throws {
        let channel = try GRPCChannel(endpoints: "127.0.0.1:1")
        defer { channel.close() }
        let method = MethodDescriptor(service: "a.B", method: "C", kind: .unary)
        for bad: Metadata in [["x-a": "line\nbreak"], ["x-a": "caf\u{e9}"], ["bad key": "v"]] {
            #expect(throws: RPCError.self) {
                _ = try channel.requestHeaders(method, options: CallOptions(metadata: bad), endpoint: 0, deadline: nil)
            }
        }
    }

    @Test func outboundQueueKeepsOrderAcrossItsFirstSlot() {
        var queue = HTTP2ClientOutboundQueue()
        queue.append([1, 2, 3])
        var out = [UInt8](repeating: 0, count: 16)
        var n = out.withUnsafeMutableBufferPointer { queue.read(into: $0.baseAddress!, capacity: 2) }
        #expect(Array(out[..<n]) == [1, 2])
        queue.append([4, 5])
        queue.append([6])
        #expect(queue.count == 4)
        n = out.withUnsafeMutableBufferPointer { queue.read(into: $0.baseAddress!, capacity: 16) }
        #expect(Array(out[..<n]) == [3, 4, 5, 6])
        #expect(queue.isEmpty)
        queue.append([7])
        n = out.withUnsafeMutableBufferPointer { queue.read(into: $0.baseAddress!, capacity: 16) }
        #expect(Array(out[..<n]) == [7])
    }
}
