/// Builds S3's XML answers: elements in order, text escaped, one namespace on the root.
public struct XMLWriter: Sendable {
    public private(set) var text = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"

    public init() {}

    public static let s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    public mutating func open(_ name: String, namespace: String? = nil) {
        text += namespace.map { "<\(name) xmlns=\"\($0)\">" } ?? "<\(name)>"
    }

    public mutating func close(_ name: String) { text += "</\(name)>" }

    /// Markup written as is (attributes this writer has no API for).
    public mutating func raw(_ markup: String) { text += markup }

    public mutating func element(_ name: String, _ value: String) {
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    public mutating func element(_ name: String, _ value: String?) {
        if let value { element(name, value) }
    }

    public mutating func element(_ name: String, _ value: some BinaryInteger) { element(name, String(value)) }
    public mutating func element(_ name: String, _ value: Bool) { element(name, value ? "true" : "false") }

    public mutating func element(_ name: String, namespace: String? = nil, _ body: (inout XMLWriter) -> Void) {
        open(name, namespace: namespace)
        body(&self)
        close(name)
    }

    public var bytes: [UInt8] { Array(text.utf8) }

    /// Escapes markup characters; characters XML 1.0 cannot carry at all are written as
    /// numeric references S3 also uses (keys may hold control characters).
    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default:
                if scalar.value < 0x20 { out += "&#\(scalar.value);" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

/// A parsed XML element: name without namespace prefix, attributes ignored, text content and
/// children in order. Enough for the request documents S3 accepts (small, no DTDs).
public struct XMLNode: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [XMLNode]

    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    public func value(_ name: String) -> String? { child(name)?.text }

    /// Parses one document; throws MalformedXML for anything it cannot read.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws -> XMLNode {
        var parser = XMLParserState(bytes: bytes, maxDepth: maxDepth)
        return try parser.document()
    }
}

private struct XMLParserState {
    let bytes: [UInt8]
    let maxDepth: Int
    var i = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        // A UTF-8 byte order mark is allowed before the declaration.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
    }

    mutating func document() throws -> XMLNode {
        try skipMisc()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw S3Error.malformedXML }
        let root = try element(depth: 0)
        try skipMisc()
        guard i == bytes.count else { throw S3Error.malformedXML }
        return root
    }

    /// Whitespace, the XML declaration, processing instructions and comments.
    mutating func skipMisc() throws {
        while true {
            skipSpace()
            if starts("<?") {
                try skip(past: "?>")
            } else if starts("<!--") {
                try skip(past: "-->")
            } else {
                return
            }
        }
    }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    func starts(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= bytes.count && Array(bytes[i..<(i + u.count)]) == u
    }

    mutating func skip(past s: String) throws {
        let u = Array(s.utf8)
        while i + u.count <= bytes.count {
            if Array(bytes[i..<(i + u.count)]) == u {
                i += u.count
                return
            }
            i += 1
        }
        throw S3Error.malformedXML
    }

    mutating func name() throws -> String {
        let start = i
        while i < bytes.count, !([0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ">"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(bytes[i])) { i += 1 }
        guard i > start else { throw S3Error.malformedXML }
        let full = String(decoding: bytes[start..<i], as: UTF8.self)
        // Namespace prefixes are dropped: S3 matches local names.
        return full.split(separator: ":").last.map(String.init) ?? full
    }

    mutating func element(depth: Int) throws -> XMLNode {
        guard depth < maxDepth else { throw S3Error.malformedXML }
        i += 1  // <
        let tag = try name()
        // Attributes: name="value" or name='value'; read and ignored.
        while true {
            skipSpace()
            guard i < bytes.count else { throw S3Error.malformedXML }
            if bytes[i] == UInt8(ascii: "/") {
                guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ">") else { throw S3Error.malformedXML }
                i += 2
                return XMLNode(name: tag, text: "", children: [])
            }
            if bytes[i] == UInt8(ascii: ">") {
                i += 1
                break
            }
            _ = try name()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw S3Error.malformedXML }
            i += 1
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else { throw S3Error.malformedXML }
            let quote = bytes[i]
            i += 1
            while i < bytes.count, bytes[i] != quote { i += 1 }
            guard i < bytes.count else { throw S3Error.malformedXML }
            i += 1
        }
        var node = XMLNode(name: tag, text: "", children: [])
        var text: [UInt8] = []
        while true {
            guard i < bytes.count else { throw S3Error.malformedXML }
            if starts("</") {
                i += 2
                guard try name() == tag else { throw S3Error.malformedXML }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw S3Error.malformedXML }
                i += 1
                node.text = try Self.unescape(text)
                return node
            } else if starts("<!--") {
                try skip(past: "-->")
            } else if starts("<![CDATA[") {
                i += 9
                let start = i
                try skip(past: "]]>")
                // CDATA is literal: escaped here so the one unescape pass restores it.
                let literal = String(decoding: bytes[start..<(i - 3)], as: UTF8.self)
                text += Array(XMLWriter.escape(literal).utf8)
            } else if bytes[i] == UInt8(ascii: "<") {
                node.children.append(try element(depth: depth + 1))
            } else {
                text.append(bytes[i])
                i += 1
            }
        }
    }

    static func unescape(_ raw: [UInt8]) throws -> String {
        guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
        let s = String(decoding: raw, as: UTF8.self)
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { throw S3Error.malformedXML }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "lt": out += "<"
            case "gt": out += ">"
            case "amp": out += "&"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let value: UInt32?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    value = UInt32(entity.dropFirst(2), radix: 16)
                } else if entity.hasPrefix("#") {
                    value = UInt32(entity.dropFirst())
                } else {
                    value = nil
                }
                guard let value, let scalar = Unicode.Scalar(value) else { throw S3Error.malformedXML }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
