/// Accumulates indented Swift source.
struct SwiftWriter {
    private(set) var text = ""
    private var indent = 0

    mutating func line(_ s: String = "") {
        if s.isEmpty { text += "\n"; return }
        text += String(repeating: "    ", count: indent) + s + "\n"
    }

    /// A `///` doc comment from a .proto comment (nothing when there is none).
    mutating func doc(_ comment: String?) {
        guard let comment else { return }
        for raw in comment.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = raw.hasPrefix(" ") ? String(raw.dropFirst()) : String(raw)
            line(text.isEmpty ? "///" : "/// " + text)
        }
    }

    /// `header {` … `}` with the body indented.
    mutating func block(_ header: String, close: String = "}", _ body: (inout SwiftWriter) throws -> Void) rethrows {
        // A closure header (`… { x in`) already opens its brace.
        line(header.hasSuffix(" in") ? header : header + " {")
        indent += 1
        try body(&self)
        indent -= 1
        line(close)
    }

    mutating func indented(_ body: (inout SwiftWriter) throws -> Void) rethrows {
        indent += 1
        try body(&self)
        indent -= 1
    }
}
