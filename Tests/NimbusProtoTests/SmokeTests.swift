import Foundation
import NimbusProto
import Testing

@Test func echoRequestRoundTrips() throws {
    let request = TestingV1.EchoRequest(text: "hello", repeat: 3, payload: Data([1, 2, 3]))
    let bytes = request.serializedBytes()
    #expect(bytes == [0x0A, 5, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x10, 3, 0x1A, 3, 1, 2, 3])
    #expect(try TestingV1.EchoRequest(serializedBytes: bytes) == request)
}
