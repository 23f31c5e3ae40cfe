/// Who is calling: the user, the tenant the call acts in, the role held there and the
/// permissions it grants, and the API key used (empty for a password session). The gateway
/// gets it from identity's Authenticate and forwards it signed with every internal call.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    public var userID: String
    public var tenantID: String
    public var role: String
    public var permissions: Set<Permission>
    public var keyID: String

    public init(userID: String, tenantID: String, role: String, permissions: Set<Permission>, keyID: String = "") {
        self.userID = userID
        self.tenantID = tenantID
        self.role = role
        self.permissions = permissions
        self.keyID = keyID
    }

    public func has(_ permission: Permission) -> Bool { permissions.contains(permission) }
    public var isPlatformAdmin: Bool { permissions.contains(.platformAdmin) }

    public var description: String { "user \(userID) in tenant \(tenantID) as \(role)" }

    /// The principal a service acts as for its own internal calls (outbox delivery, quota
    /// release after a failure), e.g. `.service("nimbus-compute")`. It belongs to no tenant;
    /// the request names the tenant.
    public static func service(_ name: String) -> Principal {
        Principal(userID: "service:\(name)", tenantID: "", role: "service", permissions: [.serviceInternal])
    }
    public var isService: Bool { role == "service" && permissions.contains(.serviceInternal) }
}

// MARK: - Canonical encoding

extension Principal {
    /// A deterministic binary encoding (what the signature covers): version 1, then userID,
    /// tenantID, role, keyID and the sorted permissions, each string as a big-endian UInt16
    /// length and its UTF-8 bytes. Equal principals encode to equal bytes.
    public func canonicalEncoding() -> [UInt8] {
        var out: [UInt8] = [1]
        func put(_ text: String) {
            let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
            out.append(UInt8(bytes.count >> 8))
            out.append(UInt8(bytes.count & 0xff))
            out.append(contentsOf: bytes)
        }
        put(userID)
        put(tenantID)
        put(role)
        put(keyID)
        let sorted = permissions.sorted()
        out.append(UInt8(sorted.count >> 8))
        out.append(UInt8(sorted.count & 0xff))
        for permission in sorted { put(permission.rawValue) }
        return out
    }

    /// Decodes `canonicalEncoding()`; nil for anything else (trailing bytes included).
    public init?(canonicalEncoding bytes: [UInt8]) {
        var reader = ByteReader(bytes)
        guard reader.byte() == 1,
              let userID = reader.string(), let tenantID = reader.string(),
              let role = reader.string(), let keyID = reader.string(),
              let count = reader.uint16()
        else { return nil }
        var permissions = Set<Permission>()
        for _ in 0..<count {
            guard let permission = reader.string() else { return nil }
            permissions.insert(Permission(permission))
        }
        guard reader.isAtEnd else { return nil }
        self.init(userID: userID, tenantID: tenantID, role: role, permissions: permissions, keyID: keyID)
    }
}

/// Bounds-checked big-endian reads for the encodings in this folder.
struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index == bytes.count }

    mutating func byte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }
    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, bytes.count - index >= count else { return nil }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }
    mutating func uint16() -> UInt16? {
        guard let b = take(2) else { return nil }
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }
    mutating func uint64() -> UInt64? {
        guard let b = take(8) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }
    mutating func string() -> String? {
        guard let length = uint16(), let raw = take(Int(length)) else { return nil }
        return String(validating: raw, as: UTF8.self)
    }
}
