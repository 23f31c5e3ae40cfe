import Testing
@Test func placeholderNimbusIdentityTests() { #expect(Bool(true)) }
