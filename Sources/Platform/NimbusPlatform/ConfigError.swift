/// A configuration value that failed validation. The message names the setting and where it
/// came from and never echoes a secret.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public var setting: String
    public var problem: String

    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "invalid configuration: \(setting): \(problem)" }
}
