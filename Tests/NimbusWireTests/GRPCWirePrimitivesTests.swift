import NimbusEventLoop
import NimbusGRPC
import NimbusRPCCore
import Testing

@Suite struct GRPCFramingTests {
    @Test func messagesSplitAnywhereReassemble() throws {
        var wire: [UInt8] = []
        let messages: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 1000)]
        for m in messages { GRPCMessageFramer.append(m, to: &wire) }
        for chunk in [1, 2, 5, 7, 64, wire.count] {
            var deframer = GRPCMessageDeframer(maxMessageSize: 4096)
            var out: [[UInt8]] = []
            var i = 0
            while i < wire.count {
                deframer.append(Array(wire[i..<min(i + chunk, wire.count)]))
                while let m = try deframer.next() { out.append(m) }
                i += chunk
            }
            try deframer.finish()
            #expect(out == messages, "chunk size \(chunk)")
        }
    }

    @Test func oversizedMessageRejectedFromPrefixAlone() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        deframer.append([0, 0, 0, 0, 11])
        #expect(throws: GRPCFramingError(.messageTooLarge(size: 11, limit: 10))) { try deframer.next() }
    }

    @Test func truncatedStreamIsReported() throws {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        deframer.append([0, 0, 0, 0, 4, 1])
        #expect(try deframer.next() == nil)
        #expect(throws: GRPCFramingError.self) { try deframer.finish() }
    }

    @Test func compressedFlagWithoutEncodingIsRejected() {
        var deframer = GRPCMessageDeframer(maxMessageSize: 10)
        deframer.append([1, 0, 0, 0, 1, 9])
        #expect(throws: GRPCFramingError(.compressedMessage)) { try deframer.next() }
    }
}

@Suite struct GRPCTimeoutTests {
    @Test(arguments: [
        ("1H", Duration.seconds(3600)), ("2M", .seconds(120)), ("3S", .seconds(3)),
        ("4m", .milliseconds(4)), ("5u", .microseconds(5)), ("6n", .nanoseconds(6)),
        ("99999999S", .seconds(99_999_999)), ("0m", .zero),
    ])
    func parsesEveryUnit(_ text: String, _ expected: Duration) {
        #expect(GRPCTimeout.parse(text) == expected)
    }

    @Test(arguments: ["", "S", "1", "123456789S", "1x", "-1S", "1.5S", " 1S", "1s"])
    func rejectsMalformed(_ text: String) {
        #expect(GRPCTimeout.parse(text) == nil)
    }

    @Test func formatRoundTripsWithoutShortening() {
        for d in [Duration.milliseconds(250), .seconds(30), .nanoseconds(1), .seconds(1_000_000_000)] {
            let text = GRPCTimeout.format(d)
            #expect(text.utf8.count <= 9)
            #expect(GRPCTimeout.parse(text)! >= d)
        }
    }
}

@Suite struct GRPCStatusMessageTests {
    @Test func percentEncodesNonPrintableAndPercent() {
        #expect(GRPCStatusMessage.encode("plain text") == "plain text")
        #expect(GRPCStatusMessage.encode("50% off\n") == "50%25 off%0A")
        #expect(GRPCStatusMessage.encode("é") == "%C3%A9")
    }

    @Test func decodesAndKeepsMalformedSequences() {
        #expect(GRPCStatusMessage.decode("50%25 off%0A") == "50% off\n")
        #expect(GRPCStatusMessage.decode("%C3%A9") == "é")
        #expect(GRPCStatusMessage.decode("bad %ZZ and %4") == "bad %ZZ and %4")
    }
}

@Suite struct GRPCBase64Tests {
    @Test func roundTripsPaddedAndUnpadded() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 250) }
            #expect(GRPCBase64.decode(GRPCBase64.encode(bytes)) == bytes)
            #expect(GRPCBase64.decode(GRPCBase64.encode(bytes, padded: true)) == bytes)
        }
        #expect(GRPCBase64.encode([0xFF, 0xFE], padded: true) == "//4=")
        #expect(GRPCBase64.decode("//4") == [0xFF, 0xFE])
    }

    @Test func rejectsGarbage() {
        #expect(GRPCBase64.decode("a") == nil)
        #expect(GRPCBase64.decode("ab$d") == nil)
        #expect(GRPCBase64.decode("a===") == nil)
    }

    @Test func binaryMetadataRoundTripsThroughHeaders() {
        var metadata = Metadata()
        metadata.add("x-trace-bin", binary: [0, 1, 2, 255])
        metadata.add("x-user", "ada")
        var back = Metadata()
        for field in metadata.headerFields { back.addReceivedHeader(name: field.name, value: field.value) }
        #expect(back == metadata)
    }
}
