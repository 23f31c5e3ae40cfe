import Testing
@Test func placeholderNimbusWireTests() { #expect(Bool(true)) }
