import Foundation

/// A Swift type a result cell (text format) can be decoded into.
public protocol PostgresDecodable: Sendable {
    /// Decodes the server's text output for a column of type `type`.
    init(postgresText text: String, type: PostgresType) throws
    /// The value for SQL NULL; throws unless the type is optional.
    static func postgresNull() throws -> Self
}

extension PostgresDecodable {
    public static func postgresNull() throws -> Self {
        throw PostgresError(kind: .decoding, message: "NULL cannot be decoded into non-optional \(Self.self)")
    }
}

func decodingError<T>(_ text: String, as _: T.Type, _ type: PostgresType) -> PostgresError {
    // The value itself stays out of the message: it may be user data.
    PostgresError(kind: .decoding, message: "a \(type) value of \(text.utf8.count) bytes is not a valid \(T.self)")
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws { self = try Wrapped(postgresText: text, type: type) }
    public static func postgresNull() throws -> Self { nil }
}

extension String: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws { self = text }
}

extension Int: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = Int(text) else { throw decodingError(text, as: Int.self, type) }
        self = v
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = Int64(text) else { throw decodingError(text, as: Int64.self, type) }
        self = v
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = Int32(text) else { throw decodingError(text, as: Int32.self, type) }
        self = v
    }
}

extension Int16: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = Int16(text) else { throw decodingError(text, as: Int16.self, type) }
        self = v
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw decodingError(text, as: Bool.self, type)
        }
    }
}

extension Double: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        switch text {
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        case "NaN": self = .nan
        default:
            guard let v = Double(text) else { throw decodingError(text, as: Double.self, type) }
            self = v
        }
    }
}

extension Decimal: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw decodingError(text, as: Decimal.self, type)
        }
        self = v
    }
}

extension UUID: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = UUID(uuidString: text) else { throw decodingError(text, as: UUID.self, type) }
        self = v
    }
}

extension Date: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = PostgresTimestamp.parse(text) else { throw decodingError(text, as: Date.self, type) }
        self = v
    }
}

extension Data: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let v = PostgresBytea.parse(text) else { throw decodingError(text, as: Data.self, type) }
        self = v
    }
}

extension PostgresJSONB: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws { self.init(text: text) }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    public init(postgresText text: String, type: PostgresType) throws {
        guard let items = PostgresArrayText.parse(text) else { throw decodingError(text, as: [Element].self, type) }
        self = try items.map { item in
            try item.map { try Element(postgresText: $0, type: .unspecified) } ?? Element.postgresNull()
        }
    }
}
