import Testing
@Test func placeholderNimbusPostgresTests() { #expect(Bool(true)) }
