/// Name conversions: Swift names chosen by this generator, and the C names protoc-c 1.4 gives
/// the same declarations (its c_helpers rules, restated).
enum Naming {
    // ── Swift ──

    /// `nimbus.identity.v1` → `IdentityV1`, `grpc.health.v1` → `GrpcHealthV1`.
    static func namespace(package: String) -> String {
        var parts = package.split(separator: ".").map(String.init)
        if parts.first == "nimbus" && parts.count > 1 { parts.removeFirst() }
        return parts.map(upperCamel).joined()
    }

    /// `foo_bar` → `FooBar`, `fooBar` → `FooBar`.
    static func upperCamel(_ name: String) -> String {
        var result = ""
        var upperNext = true
        for ch in name {
            if ch == "_" { upperNext = true; continue }
            result += upperNext ? ch.uppercased() : String(ch)
            upperNext = false
        }
        return result
    }

    /// `fail_with_code` → `failWithCode`, `HTTPRule` → `httpRule`, `Say` → `say`.
    static func lowerCamel(_ name: String) -> String {
        let upper = upperCamel(name)
        let chars = Array(upper)
        var leading = 0
        while leading < chars.count && chars[leading].isUppercase { leading += 1 }
        if leading == 0 { return upper }
        if leading == chars.count { return upper.lowercased() }
        let lowerCount = leading > 1 ? leading - 1 : 1
        return String(chars[0..<lowerCount]).lowercased() + String(chars[lowerCount...])
    }

    /// `ServingStatus` → `SERVING_STATUS` (for stripping enum value prefixes).
    static func upperSnake(_ name: String) -> String {
        var result = ""
        var previousLower = false
        for ch in name {
            if ch.isUppercase && previousLower { result += "_" }
            result += ch.uppercased()
            previousLower = ch.isLowercase || ch.isNumber
        }
        return result
    }

    /// `COLOR_RED` in `Color` → `red`; `NOT_SERVING` → `notServing`.
    static func enumCase(_ value: String, enumName: String) -> String {
        let prefix = upperSnake(enumName) + "_"
        var name = value
        if value.hasPrefix(prefix), value.count > prefix.count,
           let first = value.dropFirst(prefix.count).first, !first.isNumber {
            name = String(value.dropFirst(prefix.count))
        }
        return lowerCamel(name.lowercased())
    }

    static let swiftKeywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
        "super", "throws", "true", "try", "Type", "Protocol", "some", "any",
    ]

    /// Names a generated struct cannot use for a property (Swift would read `self`, `init` …
    /// or they clash with members every message has): such fields get a trailing `_`.
    static let reservedMembers: Set<String> = [
        "self", "Self", "init", "deinit", "subscript", "Type", "Protocol", "super",
        "protoMessageName", "serializedBytes", "cMessage", "hashValue", "hash",
    ]

    /// A field's Swift property name: lowerCamel, `_`-suffixed when reserved (escape it too).
    static func property(_ protoName: String) -> String {
        let name = lowerCamel(protoName)
        return reservedMembers.contains(name) ? name + "_" : name
    }

    /// A property, parameter or case name, escaped when it is a keyword.
    static func escaped(_ name: String) -> String {
        swiftKeywords.contains(name) ? "`\(name)`" : name
    }

    /// Type names that would clash with Swift's own member types (`X.Type`, `X.Protocol`).
    static func typeName(_ protoName: String, isEnum: Bool = false) -> String {
        ["Type", "Protocol", "Self", "Any"].contains(protoName) ? protoName + (isEnum ? "Enum" : "Message") : protoName
    }

    // ── protoc-c ──

    /// protoc-c's struct/enum type name: `nimbus.testing.v1.Echo_Request` → `Nimbus__Testing__V1__EchoRequest`.
    static func cType(fullName: String) -> String {
        fullName.split(separator: ".").map { upperCamel(String($0)) }.joined(separator: "__")
    }

    /// protoc-c's function prefix: `nimbus.testing.v1.EchoRequest` → `nimbus__testing__v1__echo_request`.
    static func cLower(fullName: String) -> String {
        fullName.split(separator: ".").map { camelToLower(String($0)) }.joined(separator: "__")
    }

    private static func camelToLower(_ name: String) -> String {
        var result = ""
        var wasUpper = true
        for ch in name.unicodeScalars {
            let isUpper = ch.properties.isUppercase && ch.isASCII
            if isUpper {
                if !wasUpper { result += "_" }
                result += String(ch).lowercased()
            } else {
                result.unicodeScalars.append(ch)
            }
            wasUpper = isUpper
        }
        return result
    }

    static let cKeywords: Set<String> = [
        "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "class",
        "compl", "const", "const_cast", "continue", "default", "delete", "do", "double", "dynamic_cast", "else",
        "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
        "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq", "private", "protected",
        "public", "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static",
        "static_cast", "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typeid",
        "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
        "xor_eq",
    ]

    static func cFieldRaw(_ name: String) -> String {
        let lower = name.lowercased()
        return cKeywords.contains(lower) ? lower + "_" : lower
    }

    /// protoc-c's struct member name of a field, as Swift code.
    static func cField(_ name: String) -> String {
        let member = cFieldRaw(name)
        // Swift would read a member named like a Swift keyword only with backticks.
        return swiftKeywords.contains(member) ? "`\(member)`" : member
    }
}
