import ArgumentParser
import NimbusProtoJSON

/// A command that calls the gateway: resolves settings, opens the client, reports failures
/// with the right exit code.
protocol APICommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    func execute(_ api: APIClient) async throws
}

extension APICommand {
    mutating func run() async throws {
        let global = self.global
        let command = self
        try await runReporting {
            let api = try APIClient(settings: try global.resolved())
            try await command.execute(api)
        }
    }
}

enum Services {
    static let users = "nimbus.identity.v1.Users"
    static let tenants = "nimbus.identity.v1.Tenants"
    static let roles = "nimbus.identity.v1.Roles"
    static let keys = "nimbus.identity.v1.ApiKeys"
    static let quotas = "nimbus.identity.v1.Quotas"
    static let audit = "nimbus.identity.v1.Audit"
    static let auth = "nimbus.identity.v1.Auth"
}

extension APIClient {
    /// The tenant the caller's key acts in (for commands whose --tenant defaults to it).
    func currentTenant() async throws -> String {
        let who = try await call(Services.auth, "WhoAmI")
        guard let tenant = who["principal"]?["tenantId"]?.stringValue, !tenant.isEmpty else {
            throw CLIError.usage("this key acts in no tenant; pass --tenant")
        }
        return tenant
    }
}

extension JSONObject {
    /// Sets `key` only when `value` is given.
    mutating func set(_ key: String, _ value: String?) {
        if let value { self[key] = .string(value) }
    }
    mutating func set(_ key: String, _ value: Int?) {
        if let value { self[key] = .integer(value) }
    }
    mutating func set(_ key: String, _ value: Bool?) {
        if let value { self[key] = .bool(value) }
    }
}
