import Foundation

/// What `nimbus configure` / `nimbus login` remember: the gateway endpoint and an API key,
/// in a JSON file readable by the user only.
struct CLIConfig: Codable, Equatable {
    var endpoint: String?
    var apiKey: String?

    /// `$XDG_CONFIG_HOME/nimbus/config.json`, else `~/.config/nimbus/config.json`;
    /// `NIMBUS_CONFIG` names another file.
    static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["NIMBUS_CONFIG"], !explicit.isEmpty { return explicit }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/nimbus/config.json"
    }

    static func load(from path: String = defaultPath) throws -> CLIConfig {
        guard FileManager.default.fileExists(atPath: path) else { return CLIConfig() }
        do {
            return try JSONDecoder().decode(CLIConfig.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CLIError.configuration("cannot read \(path): \(error.localizedDescription); fix or delete it, or run nimbus configure")
        }
    }

    /// Writes atomically with mode 0600 (the file holds an API key).
    func save(to path: String = defaultPath) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let temporary = directory.appendingPathComponent(".config.json.\(getpid())")
            FileManager.default.createFile(atPath: temporary.path, contents: try encoder.encode(self),
                                           attributes: [.posixPermissions: 0o600])
            // rename(2) replaces atomically whether or not the file exists.
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: temporary)
                throw CLIError.configuration("cannot write \(path): \(reason)")
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.configuration("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
