import Testing
@Test func placeholderNimbusComputeTests() { #expect(Bool(true)) }
