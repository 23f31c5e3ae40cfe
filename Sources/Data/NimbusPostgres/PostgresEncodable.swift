import Foundation

/// A Swift value that can be bound to a `$n` parameter. Values always travel as parameters,
/// never spliced into SQL text.
public protocol PostgresEncodable: Sendable {
    /// The parameter type sent to the server (`.unspecified` lets it infer).
    static var postgresType: PostgresType { get }
    /// The array type for `[Self]`, when arrays of this type are supported.
    static var postgresArrayType: PostgresType { get }
    /// The value in PostgreSQL's text input format; nil is SQL NULL.
    func postgresText() -> String?
}

extension PostgresEncodable {
    public static var postgresArrayType: PostgresType { .unspecified }
}

extension String: PostgresEncodable {
    // Unspecified, like a string literal: works for text, varchar, enums, inet, citext …
    public static var postgresType: PostgresType { .unspecified }
    public static var postgresArrayType: PostgresType { .textArray }
    public func postgresText() -> String? { self }
}

extension Substring: PostgresEncodable {
    public static var postgresType: PostgresType { .unspecified }
    public func postgresText() -> String? { String(self) }
}

extension Int: PostgresEncodable {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public func postgresText() -> String? { String(self) }
}

extension Int64: PostgresEncodable {
    public static var postgresType: PostgresType { .int8 }
    public static var postgresArrayType: PostgresType { .int8Array }
    public func postgresText() -> String? { String(self) }
}

extension Int32: PostgresEncodable {
    public static var postgresType: PostgresType { .int4 }
    public static var postgresArrayType: PostgresType { .int4Array }
    public func postgresText() -> String? { String(self) }
}

extension Int16: PostgresEncodable {
    public static var postgresType: PostgresType { .int2 }
    public static var postgresArrayType: PostgresType { .int2Array }
    public func postgresText() -> String? { String(self) }
}

extension Bool: PostgresEncodable {
    public static var postgresType: PostgresType { .bool }
    public static var postgresArrayType: PostgresType { .boolArray }
    public func postgresText() -> String? { self ? "t" : "f" }
}

extension Double: PostgresEncodable {
    public static var postgresType: PostgresType { .float8 }
    public static var postgresArrayType: PostgresType { .float8Array }
    public func postgresText() -> String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return "\(self)"
    }
}

extension Decimal: PostgresEncodable {
    public static var postgresType: PostgresType { .numeric }
    public static var postgresArrayType: PostgresType { .numericArray }
    public func postgresText() -> String? { isNaN ? "NaN" : NSDecimalNumber(decimal: self).description(withLocale: nil) }
}

extension UUID: PostgresEncodable {
    public static var postgresType: PostgresType { .uuid }
    public static var postgresArrayType: PostgresType { .uuidArray }
    public func postgresText() -> String? { uuidString }
}

extension Date: PostgresEncodable {
    public static var postgresType: PostgresType { .timestamptz }
    public static var postgresArrayType: PostgresType { .timestamptzArray }
    public func postgresText() -> String? { PostgresTimestamp.format(self) }
}

extension Data: PostgresEncodable {
    public static var postgresType: PostgresType { .bytea }
    public static var postgresArrayType: PostgresType { .byteaArray }
    public func postgresText() -> String? { PostgresBytea.hex(self) }
}

extension Array: PostgresEncodable where Element: PostgresEncodable {
    public static var postgresType: PostgresType { Element.postgresArrayType }
    public func postgresText() -> String? { PostgresArrayText.format(map { $0.postgresText() }) }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresType: PostgresType { Wrapped.postgresType }
    public static var postgresArrayType: PostgresType { Wrapped.postgresArrayType }
    public func postgresText() -> String? { self?.postgresText() }
}

/// A `jsonb` value: the JSON text, built from and decoded into `Codable` values.
public struct PostgresJSONB: PostgresEncodable, Hashable {
    public var text: String
    public init(text: String) { self.text = text }
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws {
        text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    public func decode<T: Decodable>(_: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: Data(text.utf8))
    }
    public static var postgresType: PostgresType { .jsonb }
    public static var postgresArrayType: PostgresType { .jsonbArray }
    public func postgresText() -> String? { text }
}
