/// gRPC custom metadata: ordered, repeatable keys (lowercase); keys ending in `-bin` carry
/// bytes (base64 on the wire, decoded here), all others ASCII text.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Key = String
    public enum Value: Sendable, Hashable, ExpressibleByStringLiteral {
        public init(stringLiteral value: String) { self = .string(value) }
        case string(String)
        case binary([UInt8])
    }

    public private(set) var entries: [(key: String, value: Value)] = []

    public init() {}
    /// Entries whose keys are lowercase already (a transport's received fields), in one piece.
    package init(lowercaseEntries: [(key: String, value: Value)]) { entries = lowercaseEntries }
    public init(dictionaryLiteral elements: (String, Value)...) {
        for (key, value) in elements { add(key, value: value) }
    }

    public mutating func add(_ key: String, _ value: String) {
        entries.append((key.lowercased(), .string(value)))
    }
    public mutating func add(_ key: String, binary value: [UInt8]) {
        entries.append((key.lowercased(), .binary(value)))
    }
    public mutating func add(_ key: String, value: Value) {
        entries.append((key.lowercased(), value))
    }
    /// Appends without lowercasing: for transports whose keys are lowercase already (HTTP/2
    /// rejects uppercase header names), saving a String rebuild per received field.
    package mutating func reserveCapacity(_ count: Int) { entries.reserveCapacity(count) }
    package mutating func appendLowercaseKey(_ key: String, value: Value) {
        entries.append((key, value))
    }
    public mutating func remove(_ key: String) {
        let key = key.lowercased()
        entries.removeAll { $0.key == key }
    }
    public mutating func replace(_ key: String, _ value: String) {
        remove(key)
        add(key, value)
    }

    /// The first text value for `key`.
    public subscript(_ key: String) -> String? {
        let key = key.lowercased()
        for entry in entries where entry.key == key {
            if case .string(let s) = entry.value { return s }
        }
        return nil
    }
    /// The first binary value for a `-bin` key.
    public func binary(_ key: String) -> [UInt8]? {
        let key = key.lowercased()
        for entry in entries where entry.key == key {
            if case .binary(let b) = entry.value { return b }
        }
        return nil
    }
    public func values(_ key: String) -> [Value] {
        let key = key.lowercased()
        return entries.filter { $0.key == key }.map(\.value)
    }

    public var isEmpty: Bool { entries.isEmpty }
    public func makeIterator() -> IndexingIterator<[(key: String, value: Value)]> { entries.makeIterator() }

    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.key == $1.key && $0.value == $1.value }
    }
    public func hash(into hasher: inout Hasher) {
        for entry in entries { hasher.combine(entry.key); hasher.combine(entry.value) }
    }
}
