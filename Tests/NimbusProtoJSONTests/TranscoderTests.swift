import Testing
@testable import NimbusProtoJSON
import NimbusTestSupport

@Suite struct TranscoderTests {
    let transcoder = Fixtures.transcoder

    func roundTrip(_ json: String, _ type: String = Fixtures.instance) throws -> JSONValue {
        let binary = try transcoder.protobuf(fromJSONText: Array(json.utf8), messageType: type)
        return try transcoder.json(fromProtobuf: binary, messageType: type)
    }

    @Test func fullInstanceRoundTrips() throws {
        let json = """
        {"id":"i-1","name":"web","state":"RUNNING","memoryBytes":"9223372036854775807",
         "big":"18446744073709551615","cpuMillis":-5,"s32":-3,"s64":"-9","f32":7,"f64":"8",
         "sf32":-1,"sf64":"-2","ratio":0.5,"score":1.25,"isPublic":true,"userData":"aGVsbG8=",
         "ports":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}],"labels":{"env":"prod","tier":"web"},
         "createdAt":"2024-02-29T12:34:56.789Z","uptime":"3600.500s","numbers":[1,2,-3],
         "portByNumber":{"443":{"containerPort":443}},"nickname":"nick",
         "metadata":{"a":1,"b":[true,null,"s"],"c":{"d":"e"}},"zone":"z1","priority":0,
         "tags":["x","y"],"limit":"42","customJSON":"c"}
        """
        let out = try roundTrip(json)
        #expect(out == (try JSONValue.parse(json)), "\(JSONWriter.string(out))")
    }

    @Test func binaryMatchesTheProtobufEncoding() throws {
        // name = "ab" (field 2), memory_bytes = 300 (field 4), numbers = [1, 2] packed (field 21).
        let bytes = try transcoder.protobuf(fromJSONText: Array(#"{"name":"ab","memoryBytes":"300","numbers":[1,2]}"#.utf8),
                                            messageType: Fixtures.instance)
        #expect(bytes == [0x12, 0x02, 0x61, 0x62, 0x20, 0xAC, 0x02, 0xAA, 0x01, 0x02, 0x01, 0x02])
    }

    @Test func acceptsAlternativeInputForms() throws {
        let out = try roundTrip(#"""
        {"memory_bytes": 1e3, "cpuMillis": "12", "state": 2, "userData": "-_8", "ratio": "NaN",
         "score": "-Infinity", "createdAt": "2024-01-01T01:00:00+01:00", "big": 5.0}
        """#)
        #expect(out == (try JSONValue.parse(#"""
        {"state":"RUNNING","memoryBytes":"1000","big":"5","cpuMillis":12,"ratio":"NaN","score":"-Infinity",
         "userData":"+/8=","createdAt":"2024-01-01T00:00:00Z"}
        """#)))
    }

    @Test func omitsDefaultsButKeepsPresence() throws {
        let out = try roundTrip(#"{"name":"","cpuMillis":0,"state":"STATE_UNSPECIFIED","priority":0,"zone":"","ports":[],"labels":{},"isPublic":false}"#)
        #expect(out == (try JSONValue.parse(#"{"zone":"","priority":0}"#)))
    }

    @Test func emitsEmptyCollectionsWithoutOtherDefaults() throws {
        let lists = ProtoJSONTranscoder(descriptors: Fixtures.descriptors, options: .init(emitEmptyCollections: true))
        let instance = try lists.json(fromProtobuf: [], messageType: Fixtures.instance)
        #expect(instance["ports"] == .array([]))
        #expect(instance["tags"] == .array([]))
        #expect(instance["numbers"] == .array([]))
        #expect(instance["labels"] == .object([:]))
        #expect(instance["portByNumber"] == .object([:]))
        #expect(instance["memoryBytes"] == nil && instance["state"] == nil && instance["name"] == nil)
        let full = try lists.json(fromProtobuf: try Fixtures.transcoder.protobuf(
            fromJSON: try JSONValue.parse(#"{"tags":["a"]}"#), messageType: Fixtures.instance), messageType: Fixtures.instance)
        #expect(full["tags"] == .array([.string("a")]))
    }

    @Test func emitsDefaultsWhenAsked() throws {
        let loud = ProtoJSONTranscoder(descriptors: Fixtures.descriptors, options: .init(emitDefaultValues: true))
        let out = try loud.json(fromProtobuf: [], messageType: "gatewaytest.v1.Port")
        #expect(out == (try JSONValue.parse(#"{"containerPort":0,"hostPort":0,"protocol":""}"#)))
        let instance = try loud.json(fromProtobuf: [], messageType: Fixtures.instance)
        #expect(instance["memoryBytes"] == .string("0"))
        #expect(instance["state"] == .string("STATE_UNSPECIFIED"))
        #expect(instance["ports"] == .array([]))
        #expect(instance["labels"] == .object([:]))
        #expect(instance["priority"] == nil)
        #expect(instance["createdAt"] == nil)
    }

    @Test func nullMeansUnset() throws {
        #expect(try roundTrip(#"{"name":null,"ports":null,"createdAt":null}"#) == .object([:]))
    }

    @Test(arguments: [
        (#"{"nmae":"x"}"#, "nmae", "unknown field"),
        (#"{"ports":[{"containerPort":80,"bogus":1}]}"#, "ports[0].bogus", "unknown field"),
        (#"{"state":"FLYING"}"#, "state", "not a value of gatewaytest.v1.Instance.State"),
        (#"{"cpuMillis":1.5}"#, "cpuMillis", "not a whole number"),
        (#"{"cpuMillis":2147483648}"#, "cpuMillis", "int32 range"),
        (#"{"big":"-1"}"#, "big", "uint64 range"),
        (#"{"memoryBytes":"9223372036854775808"}"#, "memoryBytes", "int64 range"),
        (#"{"name":5}"#, "name", "expected a string"),
        (#"{"isPublic":"true"}"#, "isPublic", "expected true or false"),
        (#"{"userData":"***"}"#, "userData", "invalid base64"),
        (#"{"createdAt":"yesterday"}"#, "createdAt", "RFC 3339"),
        (#"{"createdAt":"2023-02-29T00:00:00Z"}"#, "createdAt", "RFC 3339"),
        (#"{"uptime":"5m"}"#, "uptime", "duration"),
        (#"{"zone":"a","host":"b"}"#, "host", "only one of placement"),
        (#"{"name":"a","name":"b"}"#, "name", "more than once"),
        (#"{"labels":{"a":1}}"#, #"labels["a"]"#, "expected a string"),
        (#"{"portByNumber":{"x":{}}}"#, #"portByNumber["x"]"#, "whole number"),
        (#"{"tags":[null]}"#, "tags[0]", "may not be null"),
        (#"{"ports":{}}"#, "ports", "expected an array"),
        (#"{"ratio":1e39}"#, "ratio", "float range"),
        (#"{"score":1e400}"#, "score", "out of range"),
        (#"[]"#, "", "expected an object"),
    ])
    func rejectsBadInputNamingThePath(_ json: String, _ path: String, _ fragment: String) {
        do {
            _ = try transcoder.protobuf(fromJSONText: Array(json.utf8), messageType: Fixtures.instance)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.path == path, "\(json): \(error)")
            #expect(error.message.contains(fragment), "\(json): \(error)")
        }
    }

    @Test func malformedJSONReportsPosition() {
        do {
            _ = try transcoder.protobuf(fromJSONText: Array("{\"name\": }".utf8), messageType: Fixtures.instance)
            Issue.record("accepted malformed JSON")
        } catch {
            #expect(error.message.contains("line 1, column 10"), "\(error)")
        }
    }

    @Test func timestampsAndDurationsFollowTheSpec() throws {
        let cases: [(String, String)] = [
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            ("9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z"),
            ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
            ("2000-02-29T00:00:00.000001Z", "2000-02-29T00:00:00.000001Z"),
        ]
        for (input, expected) in cases {
            #expect(try roundTrip(#"{"createdAt":"\#(input)"}"#)["createdAt"] == .string(expected))
        }
        #expect(try roundTrip(#"{"uptime":"-1.5s"}"#)["uptime"] == .string("-1.500s"))
        #expect(try roundTrip(#"{"uptime":"0.000000001s"}"#)["uptime"] == .string("0.000000001s"))
    }

    @Test func fieldMaskAndAnyAndWrappers() throws {
        let mask = try roundTrip(#"{"updateMask":"name,instance.memoryBytes"}"#, "gatewaytest.v1.UpdateInstanceRequest")
        #expect(mask["updateMask"] == .string("name,instance.memoryBytes"))
        let any = try roundTrip(#"{"extra":{"@type":"type.googleapis.com/gatewaytest.v1.Port","containerPort":22}}"#)
        #expect(any["extra"] == (try JSONValue.parse(#"{"@type":"type.googleapis.com/gatewaytest.v1.Port","containerPort":22}"#)))
        let wrappedTime = try roundTrip(#"{"extra":{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"2020-01-01T00:00:00Z"}}"#)
        #expect(wrappedTime["extra"]?["value"] == .string("2020-01-01T00:00:00Z"))
        #expect(try roundTrip(#"{"nickname":""}"#)["nickname"] == .string(""))
        #expect(try roundTrip(#"{"limit":"0"}"#)["limit"] == .string("0"))
    }

    @Test func responseDecodingToleratesUnknownFieldsAndUnpackedRepeats() throws {
        var writer = ProtoWriter()
        writer.writeTag(999, .varint); writer.writeVarint(5)          // unknown field
        writer.writeTag(21, .varint); writer.writeVarint(7)           // numbers, unpacked
        writer.writeTag(21, .varint); writer.writeVarint(8)
        writer.writeTag(2, .lengthDelimited); writer.writeLengthDelimited(Array("a".utf8))
        writer.writeTag(2, .lengthDelimited); writer.writeLengthDelimited(Array("b".utf8)) // last wins
        let json = try transcoder.json(fromProtobuf: writer.bytes, messageType: Fixtures.instance)
        #expect(json == (try JSONValue.parse(#"{"name":"b","numbers":[7,8]}"#)))
    }

    @Test func malformedBinaryIsAnError() {
        #expect(throws: TranscodingError.self) {
            try transcoder.json(fromProtobuf: [0x12, 0x05, 0x61], messageType: Fixtures.instance)
        }
        // name (string) sent as a varint: wrong wire type
        #expect(throws: TranscodingError.self) {
            try transcoder.json(fromProtobuf: [0x10, 0x01], messageType: Fixtures.instance)
        }
        // invalid UTF-8 in a string
        #expect(throws: TranscodingError.self) {
            try transcoder.json(fromProtobuf: [0x12, 0x01, 0xFF], messageType: Fixtures.instance)
        }
    }

    @Test func unknownMessageTypeIsAnError() {
        #expect(throws: TranscodingError.self) { try transcoder.json(fromProtobuf: [], messageType: "no.Such") }
    }
}
