import Foundation
import NimbusPlatform

enum Validate {
    /// Canonical lowercase UUID text, or INVALID_ARGUMENT naming the field.
    static func uuid(_ text: String, _ field: String) throws -> String {
        guard let uuid = UUID(uuidString: text) else { throw IdentityError.invalid("\(field) is not a valid id") }
        return uuid.uuidString.lowercased()
    }

    static func optionalUUID(_ text: String, _ field: String) throws -> String? {
        text.isEmpty ? nil : try uuid(text, field)
    }

    static func email(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard (3...254).contains(trimmed.utf8.count), parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !trimmed.contains(where: { $0.isWhitespace })
        else { throw IdentityError.invalid("not a valid email address") }
        return trimmed
    }

    static func name(_ text: String, _ field: String = "name") throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(trimmed.count) else { throw IdentityError.invalid("\(field) must be 1–200 characters") }
        return trimmed
    }

    static func password(_ text: String) throws -> String {
        guard text.utf8.count >= 10 else { throw IdentityError.invalid("passwords need at least 10 characters") }
        guard text.utf8.count <= 1024 else { throw IdentityError.invalid("passwords are at most 1024 bytes") }
        return text
    }

    static func slug(_ text: String) throws -> String {
        let ok = (1...63).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
            && !text.hasPrefix("-") && !text.hasSuffix("-")
        guard ok else { throw IdentityError.invalid("slugs are lowercase letters, digits and '-', 1–63 characters") }
        return text
    }

    static func pageSize(_ requested: Int32) -> Int {
        requested <= 0 ? 50 : min(Int(requested), 500)
    }
}

/// Opaque keyset-pagination tokens: base64url of the last row's sort key parts.
enum PageToken {
    static func encode(_ parts: [String]) -> String {
        Base64URL.encode(Array(parts.joined(separator: "\u{1f}").utf8))
    }

    static func decode(_ token: String, parts count: Int) throws -> [String]? {
        if token.isEmpty { return nil }
        guard let bytes = Base64URL.decode(token), let text = String(validating: bytes, as: UTF8.self) else {
            throw IdentityError.invalid("invalid page token")
        }
        let parts = text.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count else { throw IdentityError.invalid("invalid page token") }
        return parts
    }
}
