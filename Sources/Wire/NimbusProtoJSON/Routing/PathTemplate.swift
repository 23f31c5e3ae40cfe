/// A `google.api.http` path template, compiled:
///
///     Template = "/" Segments [ ":" Verb ]
///     Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}"
///
/// `{id}` is `{id=*}`; `*` matches one segment, `**` any number (at least zero) of them.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case single
        case multi
    }

    /// A field bound to the path segments `segments` (indices into the template's segments).
    public struct Variable: Sendable, Hashable {
        public var fieldPath: [String]
        public var segments: Range<Int>
    }

    public let text: String
    public private(set) var segments: [Segment] = []
    public private(set) var variables: [Variable] = []
    public private(set) var verb: String?

    public var description: String { text }

    public init(_ text: String) throws(PathTemplateError) {
        self.text = text
        var chars = Substring(text)
        guard chars.first == "/" else { throw PathTemplateError(template: text, message: "must start with '/'") }
        chars = chars.dropFirst()
        var inVariable: (path: [String], start: Int)?
        while true {
            if chars.first == "{" {
                guard inVariable == nil else { throw PathTemplateError(template: text, message: "nested variable") }
                chars = chars.dropFirst()
                let name = chars.prefix { $0 != "}" && $0 != "=" }
                chars = chars.dropFirst(name.count)
                let fieldPath = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard !name.isEmpty, fieldPath.allSatisfy(Self.isIdentifier) else {
                    throw PathTemplateError(template: text, message: "invalid variable name '\(name)'")
                }
                if chars.first == "=" {
                    chars = chars.dropFirst()
                    inVariable = (fieldPath, segments.count)
                    continue
                }
                guard chars.first == "}" else { throw PathTemplateError(template: text, message: "unterminated variable") }
                chars = chars.dropFirst()
                variables.append(Variable(fieldPath: fieldPath, segments: segments.count..<(segments.count + 1)))
                segments.append(.single)
            } else {
                let literal = chars.prefix { $0 != "/" && $0 != "}" && $0 != ":" && $0 != "{" }
                chars = chars.dropFirst(literal.count)
                switch literal {
                case "*": segments.append(.single)
                case "**": segments.append(.multi)
                case "": throw PathTemplateError(template: text, message: "empty segment")
                default: segments.append(.literal(String(literal)))
                }
                if chars.first == "}" {
                    guard let variable = inVariable else { throw PathTemplateError(template: text, message: "unbalanced '}'") }
                    chars = chars.dropFirst()
                    variables.append(Variable(fieldPath: variable.path, segments: variable.start..<segments.count))
                    inVariable = nil
                }
            }
            guard let next = chars.first else { break }
            if next == "/" {
                chars = chars.dropFirst()
                continue
            }
            if next == ":" && inVariable == nil {
                let verb = chars.dropFirst()
                guard !verb.isEmpty, !verb.contains("/") else { throw PathTemplateError(template: text, message: "invalid verb") }
                self.verb = String(verb)
                break
            }
            throw PathTemplateError(template: text, message: "unexpected '\(next)'")
        }
        guard inVariable == nil else { throw PathTemplateError(template: text, message: "unterminated variable") }
        if let multi = segments.firstIndex(of: .multi), multi != segments.count - 1 {
            throw PathTemplateError(template: text, message: "'**' must be the last segment")
        }
    }

    private static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Literal segments first, then fewer wildcards: how specific a template is, for ordering.
    public var specificity: (literals: Int, wildcards: Int) {
        (segments.filter { if case .literal = $0 { true } else { false } }.count + (verb == nil ? 0 : 1),
         segments.filter { $0 == .multi }.count)
    }

    /// Binds the decoded path segments (and verb) to the variables, or nil when they do not match.
    public func match(_ pathSegments: [String], verb: String?) -> [(fieldPath: [String], value: String)]? {
        guard verb == self.verb else { return nil }
        let hasMulti = segments.last == .multi
        if hasMulti {
            guard pathSegments.count >= segments.count - 1 else { return nil }
        } else {
            guard pathSegments.count == segments.count else { return nil }
        }
        for (i, segment) in segments.enumerated() {
            switch segment {
            case .literal(let literal): if pathSegments[i] != literal { return nil }
            case .single: if pathSegments[i].isEmpty { return nil }
            case .multi: break
            }
        }
        return variables.map { variable in
            let upper = variable.segments.upperBound == segments.count && hasMulti
                ? pathSegments.count : variable.segments.upperBound
            return (variable.fieldPath, pathSegments[variable.segments.lowerBound..<upper].joined(separator: "/"))
        }
    }
}

public struct PathTemplateError: Error, Sendable, CustomStringConvertible {
    public var template: String
    public var message: String
    public var description: String { "invalid path template \(template): \(message)" }
}
