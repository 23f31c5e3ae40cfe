import NimbusGRPC
import Testing

/// Messages flagged compressed inflate with the call's grpc-encoding; the size limit applies to
/// what they inflate to, and bad data is a clear error, whichever way the bytes arrive.
@Suite struct GRPCCompressionTests {
    static func framed(_ payload: [UInt8], compressedWith encoding: GRPCMessageEncoding) -> [UInt8] {
        let body = encoding.compress(payload)
        let n = UInt32(body.count)
        return [1, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body
    }

    @Test(arguments: GRPCMessageEncoding.allCases)
    func compressedMessagesInflateWhetherWholeOrSplit(_ encoding: GRPCMessageEncoding) throws {
        let payload = Array("hello, compressed nimbus ".utf8) + Array(repeating: 42, count: 5000)
        let wire = Self.framed(payload, compressedWith: encoding) + GRPCMessageFramer.frame([1, 2, 3])
        #expect(wire.count < payload.count, "the fixture compresses")
        for chunk in [1, 3, 64, wire.count] {
            var deframer = GRPCMessageDeframer(maxMessageSize: 8192)
            deframer.decompression = encoding
            var out: [[UInt8]] = []
            var i = 0
            while i < wire.count {
                let piece = Array(wire[i..<min(i + chunk, wire.count)])
                try piece.withUnsafeBytes { bytes in try deframer.process(bytes) { out.append($0) } }
                i += chunk
            }
            try deframer.finish()
            #expect(out == [payload, [1, 2, 3]], "\(encoding), chunk \(chunk)")
        }
    }

    @Test func theLimitAppliesToTheInflatedSize() {
        // 4 MiB of zeros compress to a few KiB: the deframer stops at the limit, not at the end.
        let bomb = Self.framed(Array(repeating: 0, count: 4 << 20), compressedWith: .gzip)
        #expect(bomb.count < 16 << 10)
        var deframer = GRPCMessageDeframer(maxMessageSize: 1 << 20)
        deframer.decompression = .gzip
        #expect {
            try bomb.withUnsafeBytes { bytes in try deframer.process(bytes) { _ in } }
        } throws: { error in
            guard case .messageTooLarge(_, let limit) = (error as? GRPCFramingError)?.kind else { return false }
            return limit == 1 << 20
        }
    }

    @Test func corruptOrCutDataIsAnError() {
        var garbage = Self.framed(Array(repeating: 7, count: 300), compressedWith: .gzip)
        garbage[garbage.count - 6] ^= 0xff  // inside the CRC-32 trailer
        var cut = Self.framed(Array(repeating: 7, count: 300), compressedWith: .deflate)
        cut.removeLast(4)
        cut[4] = UInt8(cut.count - 5)
        for (name, wire, encoding) in [("corrupt", garbage, GRPCMessageEncoding.gzip), ("cut", cut, .deflate)] {
            var deframer = GRPCMessageDeframer(maxMessageSize: 4096)
            deframer.decompression = encoding
            let error = #expect(throws: GRPCFramingError.self, "\(name)") {
                try wire.withUnsafeBytes { bytes in try deframer.process(bytes) { _ in } }
            }
            guard case .decompressionFailed = error?.kind else {
                Issue.record("\(name): \(String(describing: error))")
                continue
            }
        }
    }

    @Test func encodingHeaderParsing() throws {
        #expect(try GRPCMessageEncoding.parse(nil).get() == nil)
        #expect(try GRPCMessageEncoding.parse("identity").get() == nil)
        #expect(try GRPCMessageEncoding.parse("gzip").get() == .gzip)
        #expect(try GRPCMessageEncoding.parse("deflate").get() == .deflate)
        #expect(throws: GRPCMessageEncoding.UnsupportedEncoding.self) { try GRPCMessageEncoding.parse("snappy").get() }
    }
}
