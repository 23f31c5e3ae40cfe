import Testing
@Test func placeholderNimbusProtoTests() { #expect(Bool(true)) }
