import Testing
@Test func placeholderNimbusPlatformTests() { #expect(Bool(true)) }
