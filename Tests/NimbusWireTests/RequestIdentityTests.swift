@testable import NimbusHTTP
import Testing

@Suite("Request identity")
struct RequestIdentityTests {
    @Test func freshTraceparentIsWellFormed() throws {
        let identity = RequestIdentity(requestID: nil, traceparent: nil)
        let parsed = try #require(RequestIdentity.parseTraceparent(identity.traceparent))
        #expect(identity.traceparent.utf8.count == 55)
        #expect(identity.traceparent.hasPrefix("00-"))
        #expect(parsed.traceID == identity.traceID && parsed.parentID == identity.spanID && parsed.flags == identity.traceFlags)
        #expect(identity.traceFlags == "01")
        #expect(identity.requestID.utf8.count == 32)
        #expect(RequestIdentity(requestID: nil, traceparent: nil).traceparent != identity.traceparent)
    }

    @Test func incomingTraceIsKeptWithANewSpan() {
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        let identity = RequestIdentity(requestID: "req-1", traceparent: incoming)
        #expect(identity.requestID == "req-1")
        #expect(identity.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(identity.traceFlags == "00")
        #expect(identity.spanID != "b7ad6b7169203331" && identity.spanID.utf8.count == 16)
        #expect(identity.traceparent == "00-0af7651916cd43dd8448eb211c80319c-\(identity.spanID)-00")
    }
}
