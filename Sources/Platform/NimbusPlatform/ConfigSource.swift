/// Resolves a setting the same way everywhere: a command-line flag wins over the
/// `NIMBUS_*` environment variable, which wins over the default. Pure: the environment is
/// passed in, so validation is testable without touching the process.
public struct ConfigSource: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The value for a setting, its origin for error messages, or nil.
    public func value(flag: String?, env: String, fallbackEnv: [String] = []) -> (value: String, origin: String)? {
        if let flag { return (flag, "flag") }
        for name in [env] + fallbackEnv {
            if let value = environment[name], !value.isEmpty { return (value, name) }
        }
        return nil
    }

    public func string(flag: String?, env: String, default defaultValue: String) -> String {
        value(flag: flag, env: env)?.value ?? defaultValue
    }

    public func int(flag: Int?, env: String, default defaultValue: Int, range: ClosedRange<Int>, setting: String) throws -> Int {
        let resolved: Int
        if let flag {
            resolved = flag
        } else if let raw = environment[env], !raw.isEmpty {
            guard let parsed = Int(raw) else {
                throw ConfigError(setting: setting, problem: "\(env)='\(raw)' is not a whole number")
            }
            resolved = parsed
        } else {
            resolved = defaultValue
        }
        guard range.contains(resolved) else {
            throw ConfigError(setting: setting, problem: "\(resolved) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return resolved
    }

    public func bool(flag: Bool?, env: String, default defaultValue: Bool, setting: String) throws -> Bool {
        if let flag { return flag }
        guard let raw = environment[env]?.lowercased(), !raw.isEmpty else { return defaultValue }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigError(setting: setting, problem: "\(env)='\(raw)' is not a boolean")
        }
    }
}
