import ArgumentParser
import NimbusPlatform

/// The command line of every service executable: `serve` (the default) and its siblings.
public struct ServiceRoot<Definition: ServiceDefinition>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Definition.executableName,
            abstract: Definition.abstract,
            version: NimbusVersion.current,
            subcommands: [Serve<Definition>.self, Migrate<Definition>.self, DatabaseBootstrap<Definition>.self]
                + Definition.extraSubcommands,
            defaultSubcommand: Serve<Definition>.self)
    }
    public init() {}
}

/// The whole of a service executable's `main`.
public enum ServiceMain {
    public static func run<Definition: ServiceDefinition>(_: Definition.Type) async {
        await ServiceRoot<Definition>.main()
    }
}
