/// A configuration value that must never reach a log line, an error message or a
/// `description`: it prints as `<redacted>` everywhere and is read only through `reveal()`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String
    public init(_ value: String) { self.value = value }
    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
