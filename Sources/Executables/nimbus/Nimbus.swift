import ArgumentParser
import NimbusPlatform

/// The `nimbus` command line: talks gRPC to the gateway.
@main
struct Nimbus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nimbus",
        abstract: "The Nimbus command line: identity and compute through the gateway.",
        discussion: """
        Settings come from flags, then NIMBUS_ENDPOINT / NIMBUS_API_KEY / NIMBUS_OUTPUT, then the config file written by `nimbus configure` or `nimbus login` (\(CLIConfig.defaultPath)).

        Exit codes: 0 success · 1 server or unexpected error · 2 not found · 3 not authenticated or not permitted · 4 request rejected (invalid, conflict, precondition) · 5 unavailable, timed out or rate limited · 64 usage error · 78 not configured.

        Shell completion: nimbus --generate-completion-script bash|zsh|fish
        """,
        version: NimbusVersion.current,
        subcommands: [
            Configure.self, Login.self, WhoAmI.self,
            UsersCommand.self, TenantsCommand.self, MembersCommand.self, RolesCommand.self,
            KeysCommand.self, QuotasCommand.self, AuditCommand.self,
            InstancesCommand.self, TypesCommand.self, ImagesCommand.self, VPCsCommand.self, ObjectsCommand.self,
        ])
}
