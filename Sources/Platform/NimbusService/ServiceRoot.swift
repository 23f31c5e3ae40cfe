import ArgumentParser
import Foundation
import Logging
import NimbusPlatform

/// The command line of every service executable: `serve` (the default) and its siblings.
public struct ServiceRoot<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Definition.executableName,
            abstract: Definition.abstract,
            version: NimbusVersion.current,
            subcommands: [Serve<Definition>.self],
            defaultSubcommand: Serve<Definition>.self)
    }
    public init() {}
}

/// Runs the service until SIGTERM or SIGINT.
public struct Serve<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "serve", abstract: "Run the service (the default).")
    }

    @OptionGroup public var options: ServiceOptions

    public init() {}

    public func run() async throws {
        let config: ServiceConfig
        do {
            config = try ServiceConfig.resolve(options, for: Definition.self, environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigError {
            // One clear line, never a secret, and a non-zero exit.
            FileHandle.standardError.write(Data("\(Definition.executableName): \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        NimbusLogging.bootstrap(format: config.logFormat, level: config.logLevel)
        NimbusMetrics.bootstrap()
        let logger = Logger(label: Definition.executableName)
        logger.info("configured", metadata: [
            "listen": "\(config.listen)",
            "database": "\(config.database.map(\.description) ?? "none")",
        ])
    }
}

/// The whole of a service executable's `main`.
public enum ServiceMain {
    public static func run<Definition: ServiceDefinition>(_: Definition.Type) async {
        await ServiceRoot<Definition>.main()
    }
}
