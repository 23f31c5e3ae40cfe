import NimbusRPCCore
import Testing
@testable import NimbusGateway

@Suite("Gateway incoming fields")
struct IncomingFieldsTests {
    @Test func incomingFieldsTakeTheFirstTextValue() {
        var metadata = Metadata()
        metadata.add("authorization", "Bearer one")
        metadata.add("authorization", "Bearer two")
        metadata.add("x-request-id", "r")
        metadata.add("x-api-key-bin", binary: [1])
        let fields = IncomingFields(metadata)
        #expect(fields.authorization == "Bearer one")
        #expect(fields.requestID == "r")
        #expect(fields.apiKey == nil && fields.traceparent == nil)
    }
}
