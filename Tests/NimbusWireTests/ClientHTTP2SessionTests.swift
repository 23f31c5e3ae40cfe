@testable import NimbusGRPC
import NimbusHTTP
import Testing

/// Drives `HTTP2ClientSession` with server frames written by hand (HPACK literals without
/// Huffman), so the session is checked without a socket or a server.
@Suite("HTTP/2 client session")
struct ClientHTTP2SessionTests {
    static func frame(type: UInt8, flags: UInt8, stream: Int32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags,
                UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    /// HPACK "literal header field without indexing — new name", no Huffman.
    static func hpack(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out.append(0)
            out.append(UInt8(name.utf8.count)); out += Array(name.utf8)
            out.append(UInt8(value.utf8.count)); out += Array(value.utf8)
        }
        return out
    }

    static let endStream: UInt8 = 0x1, endHeaders: UInt8 = 0x4

    /// Frames in `bytes` after the client preface magic, as (type, flags, stream, payload length).
    static func frames(in bytes: [UInt8]) -> [(type: UInt8, flags: UInt8, stream: Int32, length: Int)] {
        var i = bytes.starts(with: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)) ? 24 : 0
        var out: [(UInt8, UInt8, Int32, Int)] = []
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let stream = Int32(bytes[i + 5] & 0x7f) << 24 | Int32(bytes[i + 6]) << 16 | Int32(bytes[i + 7]) << 8 | Int32(bytes[i + 8])
            out.append((bytes[i + 3], bytes[i + 4], stream, length))
            i += 9 + length
        }
        return out
    }

    func openSession(window: Int32 = 65_535) throws -> (HTTP2ClientSession, Int32) {
        var settings = HTTP2ClientSession.Settings()
        settings.initialStreamWindow = window
        let session = try HTTP2ClientSession(settings: settings)
        let stream = try session.submitRequest(headers: [
            HTTP2ClientHeader(":method", "POST"), HTTP2ClientHeader(":scheme", "http"),
            HTTP2ClientHeader(":path", "/test.Echo/Say"), HTTP2ClientHeader(":authority", "localhost"),
            HTTP2ClientHeader("content-type", "application/grpc"), HTTP2ClientHeader("te", "trailers"),
        ])
        // Server preface: SETTINGS, then ACK of ours.
        try session.receive(Self.frame(type: 4, flags: 0, stream: 0, []) + Self.frame(type: 4, flags: 1, stream: 0, []))
        return (session, stream)
    }

    @Test func requestGoesOutWithPrefaceHeadersAndStreamedBody() throws {
        let (session, stream) = try openSession()
        #expect(stream == 1)
        var out: [UInt8] = []
        try session.drainOutput(into: &out)
        #expect(out.starts(with: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)))
        var frames = Self.frames(in: out)
        #expect(frames.contains { $0.type == 1 && $0.stream == 1 && $0.flags & Self.endStream == 0 })
        // No body queued yet: the data provider is deferred and nothing else goes out.
        #expect(!frames.contains { $0.type == 0 })

        session.sendData(streamID: stream, ClientWireFormat.frame([7, 7, 7]), endStream: false)
        out = []
        try session.drainOutput(into: &out)
        frames = Self.frames(in: out)
        #expect(frames.map(\.type) == [0])
        #expect(frames.first?.length == 8 && frames.first?.flags == 0)

        session.sendData(streamID: stream, [], endStream: true)
        out = []
        try session.drainOutput(into: &out)
        frames = Self.frames(in: out)
        #expect(frames.count == 1 && frames[0].type == 0 && frames[0].flags & Self.endStream != 0)
    }

    @Test func responseEventsInOrder() throws {
        let (session, stream) = try openSession()
        var out: [UInt8] = []
        try session.drainOutput(into: &out)
        _ = session.takeEvents()
        session.sendData(streamID: stream, [], endStream: true)
        try session.drainOutput(into: &out)
        let response = Self.frame(type: 1, flags: Self.endHeaders, stream: stream,
                                  Self.hpack([(":status", "200"), ("content-type", "application/grpc")]))
            + Self.frame(type: 0, flags: 0, stream: stream, ClientWireFormat.frame([42]))
            + Self.frame(type: 1, flags: Self.endHeaders | Self.endStream, stream: stream, Self.hpack([("grpc-status", "0")]))
        try session.receive(response)
        let events = session.takeEvents()
        #expect(events == [
            .headers(streamID: stream, fields: [HTTP2ClientHeader(":status", "200"), HTTP2ClientHeader("content-type", "application/grpc")], endStream: false),
            .data(streamID: stream, bytes: [0, 0, 0, 0, 1, 42]),
            .headers(streamID: stream, fields: [HTTP2ClientHeader("grpc-status", "0")], endStream: true),
            .closed(streamID: stream, errorCode: .noError),
        ])
        #expect(session.openStreams == 0)
    }

    @Test func windowUpdateOnlyAfterTheApplicationConsumes() throws {
        let (session, stream) = try openSession(window: 65_535)
        var out: [UInt8] = []
        try session.drainOutput(into: &out)
        try session.receive(Self.frame(type: 1, flags: Self.endHeaders, stream: stream,
                                       Self.hpack([(":status", "200"), ("content-type", "application/grpc")])))
        // 40 000 bytes: past half the 64 KiB window, where nghttp2 would auto-update.
        try session.receive(Self.frame(type: 0, flags: 0, stream: stream, [UInt8](repeating: 1, count: 16_000))
                            + Self.frame(type: 0, flags: 0, stream: stream, [UInt8](repeating: 1, count: 16_000))
                            + Self.frame(type: 0, flags: 0, stream: stream, [UInt8](repeating: 1, count: 8_000)))
        out = []
        try session.drainOutput(into: &out)
        #expect(!Self.frames(in: out).contains { $0.type == 8 && $0.stream == stream })

        session.consume(streamID: stream, count: 40_000)
        out = []
        try session.drainOutput(into: &out)
        #expect(Self.frames(in: out).contains { $0.type == 8 && $0.stream == stream })
    }

    @Test func refusedStreamAndGoAwayAreReported() throws {
        let (session, stream) = try openSession()
        var out: [UInt8] = []
        try session.drainOutput(into: &out)
        _ = session.takeEvents()
        try session.receive(Self.frame(type: 3, flags: 0, stream: stream, [0, 0, 0, 7]))  // RST_STREAM REFUSED_STREAM
        try session.receive(Self.frame(type: 7, flags: 0, stream: 0, [0, 0, 0, 0, 0, 0, 0, 0]))  // GOAWAY last=0 NO_ERROR
        #expect(session.takeEvents() == [
            .closed(streamID: stream, errorCode: .refusedStream),
            .goAway(lastStreamID: 0, errorCode: .noError),
        ])
    }

    @Test func garbageFromThePeerIsAProtocolError() throws {
        let session = try HTTP2ClientSession()
        var out: [UInt8] = []
        try session.drainOutput(into: &out)
        // A DATA frame on stream 0 is a connection error: GOAWAY goes out and the session is done.
        try? session.receive(Self.frame(type: 4, flags: 0, stream: 0, []) + Self.frame(type: 0, flags: 0, stream: 0, [1]))
        out = []
        try? session.drainOutput(into: &out)
        #expect(Self.frames(in: out).contains { $0.type == 7 })
        #expect(!session.wantsRead && !session.wantsWrite)
    }
}
