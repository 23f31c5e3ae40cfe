import Foundation
import Logging
import Synchronization

/// A swift-log handler writing one JSON object per line to standard error: `ts`, `level`,
/// `logger`, `msg` and the metadata as fields with their dotted keys.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }

        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level)\",\"logger\":"
        JSONText.appendString(label, to: &line)
        line += ",\"msg\":"
        JSONText.appendString("\(event.message)", to: &line)
        for key in fields.keys.sorted() {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            Self.append(fields[key]!, to: &line)
        }
        line += "}\n"
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    private static let output = Mutex(())

    private static func append(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let s): JSONText.appendString(s, to: &line)
        case .stringConvertible(let c): JSONText.appendString(c.description, to: &line)
        case .array(let values):
            line += "["
            for (i, v) in values.enumerated() {
                if i > 0 { line += "," }
                append(v, to: &line)
            }
            line += "]"
        case .dictionary(let dict):
            line += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { line += "," }
                JSONText.appendString(key, to: &line)
                line += ":"
                append(dict[key]!, to: &line)
            }
            line += "}"
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// Minimal JSON string escaping shared by the log handler and other small emitters.
public enum JSONText {
    public static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

public enum LogFormat: String, Sendable, CaseIterable {
    case json, text
}

public enum NimbusLogging {
    /// Installs the process-wide log handler once, before anything logs.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLogHandler(label: label, level: level)
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
