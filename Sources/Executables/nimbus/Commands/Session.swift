import ArgumentParser
import Foundation
import NimbusProtoJSON

struct Configure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save the gateway endpoint and API key to the config file.",
        discussion: "Without options, shows the current settings (the key redacted).")

    @Option(help: "Gateway endpoint, e.g. http://127.0.0.1:8080.")
    var endpoint: String?

    @Option(help: "API key (nmb_…). Use --api-key-stdin to keep it out of shell history.")
    var apiKey: String?

    @Flag(help: "Read the API key from standard input.")
    var apiKeyStdin = false

    @Flag(inversion: .prefixedNo, help: "Check the key with the gateway before saving.")
    var verify = true

    func run() async throws {
        try await runReporting {
            var config = try CLIConfig.load()
            var key = apiKey
            if apiKeyStdin { key = Terminal.readSecret(prompt: "API key: ") }
            if endpoint == nil && key == nil {
                Terminal.print("config file  \(CLIConfig.defaultPath)")
                Terminal.print("endpoint     \(config.endpoint ?? "-")")
                Terminal.print("api key      \(config.apiKey.map { String($0.prefix(16)) + "…" } ?? "-")")
                return
            }
            if let endpoint {
                _ = try GatewayEndpoint(parsing: endpoint)
                config.endpoint = endpoint
            }
            if let key { config.apiKey = key.trimmingCharacters(in: .whitespaces) }
            if verify, let endpoint = config.endpoint, let key = config.apiKey {
                let api = try APIClient(settings: ResolvedSettings(endpoint: endpoint, apiKey: key, output: .table, timeout: .seconds(15)))
                let who = try await api.call(Services.auth, "WhoAmI")
                Terminal.note("authenticated as \(who["user"]?["email"]?.stringValue ?? "?") in tenant \(who["tenant"]?["slug"]?.stringValue ?? "?")")
            }
            try config.save()
            Terminal.note("saved to \(CLIConfig.defaultPath)")
        }
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in with email and password; the new API key is saved to the config file.",
        discussion: "The password comes from --password-stdin, NIMBUS_PASSWORD, or a prompt.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Your email address.")
    var email: String

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @Option(help: "Tenant id to log in to (default: your default tenant).")
    var tenant: String?

    func run() async throws {
        try await runReporting {
            let settings = try global.resolved(requireKey: false)
            var password = ProcessInfo.processInfo.environment["NIMBUS_PASSWORD"]
            if passwordStdin || password == nil { password = Terminal.readSecret(prompt: "Password for \(email): ") }
            guard let password, !password.isEmpty else { throw CLIError.usage("a password is required") }
            let api = try APIClient(settings: settings)
            var request: JSONObject = ["email": .string(email), "password": .string(password)]
            request.set("tenant_id", tenant)
            let response = try await api.call(Services.auth, "Login", request, authenticated: false)
            guard let secret = response["secret"]?.stringValue, !secret.isEmpty else {
                throw CLIError.failed("the gateway answered Login without a key")
            }
            var config = try CLIConfig.load()
            config.endpoint = settings.endpoint
            config.apiKey = secret
            try config.save()
            let expires = response["key"]?["expireTime"]?.stringValue ?? ""
            Terminal.note("logged in as \(response["user"]?["email"]?.stringValue ?? email) in tenant "
                          + "\(response["tenant"]?["slug"]?.stringValue ?? "?")"
                          + (expires.isEmpty ? "" : "; the key expires \(expires)")
                          + "; saved to \(CLIConfig.defaultPath)")
        }
    }
}

struct WhoAmI: APICommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who the configured key acts as.")
    @OptionGroup var global: GlobalOptions

    func execute(_ api: APIClient) async throws {
        Render.one(try await api.call(Services.auth, "WhoAmI"), format: api.settings.output)
    }
}
