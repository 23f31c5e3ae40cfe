import NimbusProtoJSON

/// One table column: a title and the dotted JSON path of its value.
struct Column: Sendable {
    var title: String
    var path: String
    /// Turns the value into the cell text (default: `Render.text`).
    var format: @Sendable (JSONValue?) -> String

    init(_ title: String, _ path: String, format: @escaping @Sendable (JSONValue?) -> String = { Render.text($0) }) {
        self.title = title
        self.path = path
        self.format = format
    }

    /// Enum names without their type prefix (`INSTANCE_STATE_RUNNING` → `RUNNING`).
    static func enumName(_ title: String, _ path: String, prefix: String) -> Column {
        Column(title, path) { value in
            let text = Render.text(value)
            return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
        }
    }
}

/// Prints results as tables for people or as proto3 JSON for scripts.
enum Render {
    static func value(at path: String, in value: JSONValue) -> JSONValue? {
        var current: JSONValue? = value
        for key in path.split(separator: ".") { current = current?[String(key)] }
        return current
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return "-"
        case .string(let s)?: return s.isEmpty ? "-" : s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "yes" : "no"
        case .array(let elements)?: return elements.isEmpty ? "-" : elements.map { text($0) }.joined(separator: ",")
        case .object?: return JSONWriter.string(value!)
        }
    }

    /// A single resource: `field  value` rows, nested messages flattened with dots.
    static func one(_ value: JSONValue, format: OutputFormat) {
        guard format == .table else {
            Terminal.print(JSONWriter.string(value, pretty: true))
            return
        }
        var rows: [(String, String)] = []
        func flatten(_ value: JSONValue, prefix: String) {
            if case .object(let object) = value, !object.isEmpty {
                for member in object { flatten(member.value, prefix: prefix.isEmpty ? member.key : "\(prefix).\(member.key)") }
            } else {
                rows.append((prefix, text(value)))
            }
        }
        flatten(value, prefix: "")
        let width = rows.map(\.0.count).max() ?? 0
        for (key, text) in rows { Terminal.print(key.padding(to: width) + "  " + text) }
    }

    /// A list: one row per item, or a JSON array.
    static func many(_ items: [JSONValue], columns: [Column], format: OutputFormat, nextPageToken: String? = nil) {
        if format == .json {
            Terminal.print(JSONWriter.string(.array(items), pretty: true))
        } else {
            let rows = items.map { item in columns.map { clip($0.format(value(at: $0.path, in: item))) } }
            let widths = columns.indices.map { i in max(columns[i].title.count, rows.map { $0[i].count }.max() ?? 0) }
            Terminal.print(zip(columns, widths).map { $0.title.padding(to: $1) }.joined(separator: "  ").trimmedRight())
            for row in rows {
                Terminal.print(zip(row, widths).map { $0.padding(to: $1) }.joined(separator: "  ").trimmedRight())
            }
        }
        if let nextPageToken { Terminal.note("more results: --page-token \(nextPageToken) (or --all)") }
    }

    private static func clip(_ text: String) -> String {
        text.count > 60 ? String(text.prefix(59)) + "…" : text
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func trimmedRight() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
