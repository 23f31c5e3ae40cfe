import ArgumentParser
import NimbusPlatform

/// The `nimbus` command line: talks gRPC to the gateway.
@main
struct Nimbus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nimbus",
        abstract: "The Nimbus command line: identity, compute, storage and databases through the gateway.",
        version: NimbusVersion.current)
}
