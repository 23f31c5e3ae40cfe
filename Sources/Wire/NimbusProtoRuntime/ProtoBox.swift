/// Heap storage for a message-typed field, so that a message may contain itself (directly or
/// through others) while staying a value type.
public indirect enum ProtoBox<Value: Sendable & Hashable>: Sendable, Hashable, CustomDebugStringConvertible {
    case value(Value)

    @inlinable public init(_ value: Value) { self = .value(value) }

    @inlinable public var value: Value {
        get { if case .value(let v) = self { return v }; fatalError("unreachable") }
        set { self = .value(newValue) }
    }

    public var debugDescription: String { String(reflecting: value) }
}
