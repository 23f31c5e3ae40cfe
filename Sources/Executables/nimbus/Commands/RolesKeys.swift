import ArgumentParser
import NimbusProtoJSON

struct RolesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles", abstract: "Built-in and custom roles.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Permissions.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("BUILTIN", "builtin"), Column("PERMISSIONS", "permissions")]

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List your tenant's roles.")
        @OptionGroup var global: GlobalOptions
        func execute(_ api: APIClient) async throws {
            let response = try await api.call(Services.roles, "ListRoles")
            guard case .array(let roles)? = response["roles"] else { return Render.many([], columns: RolesCommand.columns, format: api.settings.output) }
            Render.many(roles, columns: RolesCommand.columns, format: api.settings.output)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show a role.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Role id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.roles, "GetRole", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct Create: APICommand {
        static let configuration = CommandConfiguration(abstract: "Create a custom role.")
        @OptionGroup var global: GlobalOptions
        @Option var name: String
        @Option var description: String = ""
        @Option(name: .customLong("permission"), help: "A permission like instance:read (repeat the option).") var permissions: [String] = []
        func execute(_ api: APIClient) async throws {
            let request: JSONObject = ["name": .string(name), "description": .string(description),
                                       "permissions": .array(permissions.map { .string($0) })]
            Render.one(try await api.call(Services.roles, "CreateRole", request), format: api.settings.output)
        }
    }

    struct Update: APICommand {
        static let configuration = CommandConfiguration(abstract: "Replace a custom role's description and permissions.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Role id.") var id: String
        @Option var description: String = ""
        @Option(name: .customLong("permission"), help: "A permission (repeat the option).") var permissions: [String] = []
        func execute(_ api: APIClient) async throws {
            let request: JSONObject = ["id": .string(id), "description": .string(description),
                                       "permissions": .array(permissions.map { .string($0) })]
            Render.one(try await api.call(Services.roles, "UpdateRole", request), format: api.settings.output)
        }
    }

    struct Delete: APICommand {
        static let configuration = CommandConfiguration(abstract: "Delete a custom role nobody holds.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Role id.") var id: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(Services.roles, "DeleteRole", ["id": .string(id)])
            Terminal.note("deleted role \(id)")
        }
    }

    struct Permissions: APICommand {
        static let configuration = CommandConfiguration(abstract: "List every permission a role may hold.")
        @OptionGroup var global: GlobalOptions
        func execute(_ api: APIClient) async throws {
            let response = try await api.call(Services.roles, "ListPermissions")
            guard case .array(let permissions)? = response["permissions"] else { return }
            if api.settings.output == .json {
                Terminal.print(JSONWriter.string(.array(permissions), pretty: true))
            } else {
                permissions.forEach { Terminal.print(Render.text($0)) }
            }
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "API keys.",
        subcommands: [Create.self, List.self, Get.self, Revoke.self, Rotate.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("PREFIX", "prefix"), Column("USER", "userId"),
                          Column("EXPIRES", "expireTime"), Column("REVOKED", "revokeTime"), Column("LAST USED", "lastUsedTime"), Column("S3 ACCESS KEY", "s3AccessKeyId")]

    /// The secret is shown once: in table mode on its own line with a warning.
    static func showCreated(_ response: JSONValue, format: OutputFormat) {
        if format == .json { return Render.one(response, format: .json) }
        if let key = response["key"] { Render.one(key, format: .table) }
        Terminal.print("secret  \(response["secret"]?.stringValue ?? "-")")
        if let s3 = response["s3"] {
            Terminal.print("s3 access key id      \(s3["accessKeyId"]?.stringValue ?? "-")")
            Terminal.print("s3 secret access key  \(s3["secretAccessKey"]?.stringValue ?? "-")")
        }
        Terminal.note("The secret is shown only now; store it safely.")
    }

    struct Create: APICommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key (the secret is shown once).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "A name to recognise the key by.") var name: String
        @Option(help: "Expiry as RFC 3339, e.g. 2030-01-01T00:00:00Z.") var expires: String?
        @Option(help: "Create it for another user (iam:manage).") var user: String?
        @Flag(help: "Also create S3 credentials (access key id + secret, shown once) acting as this key.") var s3 = false
        func execute(_ api: APIClient) async throws {
            var request: JSONObject = ["name": .string(name)]
            request.set("expire_time", expires)
            request.set("user_id", user)
            if s3 { request["s3"] = .bool(true) }
            KeysCommand.showCreated(try await api.call(Services.keys, "CreateApiKey", request), format: api.settings.output)
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (never their secrets).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Option(help: "Another user's keys (iam:manage).") var user: String?
        func execute(_ api: APIClient) async throws {
            var request = JSONObject()
            request.set("user_id", user)
            let (items, next) = try await api.list(Services.keys, "ListApiKeys", request, itemsField: "keys", page: page)
            Render.many(items, columns: KeysCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show an API key.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.keys, "GetApiKey", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct Revoke: APICommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key; it stops working on the next request.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.keys, "RevokeApiKey", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct Rotate: APICommand {
        static let configuration = CommandConfiguration(abstract: "A new secret for a key; the old one keeps working until --previous-valid-until.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id.") var id: String
        @Option(help: "RFC 3339 time until which the old secret still works.") var previousValidUntil: String?
        func execute(_ api: APIClient) async throws {
            var request: JSONObject = ["id": .string(id)]
            request.set("previous_valid_until", previousValidUntil)
            KeysCommand.showCreated(try await api.call(Services.keys, "RotateApiKey", request), format: api.settings.output)
        }
    }
}

struct QuotasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quotas", abstract: "Tenant quotas.", subcommands: [Get.self, Set.self])

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant's limits and usage.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var tenant: MembersCommand.TenantOption
        func execute(_ api: APIClient) async throws {
            let quota = try await api.call(Services.quotas, "GetQuota", ["tenant_id": .string(try await tenant.resolve(api))])
            if api.settings.output == .json { return Render.one(quota, format: .json) }
            let resources = ["instances", "vcpus", "memoryMb", "storageGb", "buckets", "databases"]
            let rows: [JSONValue] = resources.map { name in
                .object(["resource": .string(name), "used": quota["used"]?[name] ?? .null, "limit": quota["limits"]?[name] ?? .null])
            }
            Render.many(rows, columns: [Column("RESOURCE", "resource"), Column("USED", "used"), Column("LIMIT", "limit")], format: .table)
        }
    }

    struct Set: APICommand {
        static let configuration = CommandConfiguration(abstract: "Set a tenant's limits (platform admins).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option var instances: Int?
        @Option var vcpus: Int?
        @Option var memoryMb: Int?
        @Option var storageGb: Int?
        @Option var buckets: Int?
        @Option var databases: Int?
        func execute(_ api: APIClient) async throws {
            let current = try await api.call(Services.quotas, "GetQuota", ["tenant_id": .string(tenant)])
            var limits = JSONObject()
            if case .object(let existing)? = current["limits"] { limits = existing }
            for (key, value) in [("instances", instances), ("vcpus", vcpus), ("memoryMb", memoryMb), ("storageGb", storageGb),
                                 ("buckets", buckets), ("databases", databases)] {
                if let value { limits[key] = .string(String(value)) }
            }
            Render.one(try await api.call(Services.quotas, "SetQuota", ["tenant_id": .string(tenant), "limits": .object(limits)]),
                       format: api.settings.output)
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "The tenant's audit trail.", subcommands: [List.self, Verify.self])

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List audit events, newest filters combined with AND.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Option(help: "e.g. instance.launch") var action: String?
        @Option var resourceType: String?
        @Option var resourceId: String?
        @Option var actor: String?
        @Option(help: "RFC 3339") var since: String?
        @Option(help: "RFC 3339") var until: String?
        func execute(_ api: APIClient) async throws {
            var request = JSONObject()
            request.set("action", action)
            request.set("resource_type", resourceType)
            request.set("resource_id", resourceId)
            request.set("actor_user_id", actor)
            request.set("start_time", since)
            request.set("end_time", until)
            let (items, next) = try await api.list(Services.audit, "ListAuditEvents", request, itemsField: "events", page: page)
            Render.many(items, columns: [Column("SEQ", "seq"), Column("TIME", "occurTime"), Column("ACTION", "action"),
                                         Column("TYPE", "resourceType"), Column("RESOURCE", "resourceId"),
                                         Column("OUTCOME", "outcome"), Column("ACTOR", "actorUserId")],
                        format: api.settings.output, nextPageToken: next)
        }
    }

    struct Verify: APICommand {
        static let configuration = CommandConfiguration(abstract: "Verify the audit hash chain.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Another tenant (platform admins).") var tenant: String?
        func execute(_ api: APIClient) async throws {
            var request = JSONObject()
            request.set("tenant_id", tenant)
            let result = try await api.call(Services.audit, "VerifyAuditChain", request)
            Render.one(result, format: api.settings.output)
            if result["ok"] != .bool(true) { throw CLIError.failed("the audit chain does not verify") }
        }
    }
}
