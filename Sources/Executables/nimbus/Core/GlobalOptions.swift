import ArgumentParser
import Foundation

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Flags every command that talks to the gateway accepts.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Gateway endpoint, e.g. http://127.0.0.1:8080 (env NIMBUS_ENDPOINT).")
    var endpoint: String?

    @Option(help: "API key (env NIMBUS_API_KEY). Prefer `nimbus login` or `nimbus configure` to keep it out of shell history.")
    var apiKey: String?

    @Option(name: [.customShort("o"), .long], help: "table or json (env NIMBUS_OUTPUT).")
    var output: OutputFormat?

    @Option(help: "Seconds to wait for each call.")
    var timeout: Double = 30

    /// Flags, then environment, then the config file.
    func resolved(requireKey: Bool = true) throws -> ResolvedSettings {
        let environment = ProcessInfo.processInfo.environment
        let file = try CLIConfig.load()
        let endpoint = endpoint ?? environment["NIMBUS_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? file.endpoint
        guard let endpoint else {
            throw CLIError.configuration("no gateway endpoint: run `nimbus configure --endpoint http://127.0.0.1:8080` or set NIMBUS_ENDPOINT")
        }
        let key = apiKey ?? environment["NIMBUS_API_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? file.apiKey
        if requireKey && key == nil {
            throw CLIError.configuration("no API key: run `nimbus login` or `nimbus configure --api-key …`, or set NIMBUS_API_KEY")
        }
        var format = output ?? .table
        if output == nil, let text = environment["NIMBUS_OUTPUT"], !text.isEmpty {
            guard let parsed = OutputFormat(rawValue: text) else { throw CLIError.usage("NIMBUS_OUTPUT must be table or json") }
            format = parsed
        }
        guard timeout > 0, timeout <= 3600 else { throw CLIError.usage("--timeout must be between 0 and 3600 seconds") }
        return ResolvedSettings(endpoint: endpoint, apiKey: key, output: format, timeout: .milliseconds(Int64(timeout * 1000)))
    }
}

struct ResolvedSettings {
    var endpoint: String
    var apiKey: String?
    var output: OutputFormat
    var timeout: Duration
}

/// Listing flags shared by every `list` command.
struct PageOptions: ParsableArguments {
    @Option(help: "Results per page.")
    var pageSize: Int?

    @Option(help: "Continue from a previous page.")
    var pageToken: String?

    @Flag(help: "Follow every page.")
    var all = false

    func validate() throws {
        if let pageSize, pageSize < 1 || pageSize > 1000 { throw ValidationError("--page-size must be between 1 and 1000") }
    }
}

enum ProcessInfoEnvironment {
    static func value(_ name: String) -> String? {
        let value = ProcessInfo.processInfo.environment[name]
        return value?.isEmpty == false ? value : nil
    }
}
