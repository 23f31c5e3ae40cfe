import ArgumentParser
import NimbusProtoJSON

struct TenantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "Tenants you belong to.",
        subcommands: [Create.self, Get.self, List.self, Delete.self, Use.self])

    static let columns = [Column("ID", "id"), Column("NAME", "name"), Column("SLUG", "slug"), Column("CREATED", "createTime")]

    struct Create: APICommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant; you become its admin.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Display name.") var name: String
        @Option(help: "Short unique name (lowercase letters, digits, dashes).") var slug: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.tenants, "CreateTenant", ["name": .string(name), "slug": .string(slug)]),
                       format: api.settings.output)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.tenants, "GetTenant", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List the tenants you are a member of.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        func execute(_ api: APIClient) async throws {
            let (items, next) = try await api.list(Services.tenants, "ListTenants", [:], itemsField: "tenants", page: page)
            Render.many(items, columns: TenantsCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    struct Delete: APICommand {
        static let configuration = CommandConfiguration(abstract: "Delete a tenant (it must own no resources unless --force).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var id: String
        @Flag(help: "Delete even while it owns resources (platform admins).") var force = false
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(Services.tenants, "DeleteTenant", ["id": .string(id), "force": .bool(force)])
            Terminal.note("deleted tenant \(id)")
        }
    }

    struct Use: APICommand {
        static let configuration = CommandConfiguration(abstract: "Make a tenant your default (used by `nimbus login`).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Tenant id.") var id: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(Services.tenants, "SetDefaultTenant", ["tenant_id": .string(id)])
            Terminal.note("default tenant is now \(id); `nimbus login` again to act in it")
        }
    }
}

struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "Members of a tenant and their roles.",
        subcommands: [Add.self, Update.self, Remove.self, List.self])

    static let columns = [Column("USER", "userId"), Column("EMAIL", "email"), Column("ROLE", "role"), Column("SINCE", "createTime")]

    struct TenantOption: ParsableArguments {
        @Option(help: "Tenant id (default: the tenant your key acts in).") var tenant: String?
        func resolve(_ api: APIClient) async throws -> String {
            if let tenant { return tenant }
            return try await api.currentTenant()
        }
    }

    struct Add: APICommand {
        static let configuration = CommandConfiguration(abstract: "Add a user to a tenant with a role.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var tenant: TenantOption
        @Option(help: "User id.") var user: String
        @Option(help: "admin, developer, viewer or a custom role.") var role: String
        func execute(_ api: APIClient) async throws {
            let request: JSONObject = ["tenant_id": .string(try await tenant.resolve(api)), "user_id": .string(user), "role": .string(role)]
            Render.one(try await api.call(Services.tenants, "AddMember", request), format: api.settings.output)
        }
    }

    struct Update: APICommand {
        static let configuration = CommandConfiguration(abstract: "Change a member's role.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var tenant: TenantOption
        @Option(help: "User id.") var user: String
        @Option(help: "The new role.") var role: String
        func execute(_ api: APIClient) async throws {
            let request: JSONObject = ["tenant_id": .string(try await tenant.resolve(api)), "user_id": .string(user), "role": .string(role)]
            Render.one(try await api.call(Services.tenants, "UpdateMember", request), format: api.settings.output)
        }
    }

    struct Remove: APICommand {
        static let configuration = CommandConfiguration(abstract: "Remove a member from a tenant.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var tenant: TenantOption
        @Option(help: "User id.") var user: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(Services.tenants, "RemoveMember", ["tenant_id": .string(try await tenant.resolve(api)), "user_id": .string(user)])
            Terminal.note("removed \(user)")
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's members.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var tenant: TenantOption
        @OptionGroup var page: PageOptions
        func execute(_ api: APIClient) async throws {
            let (items, next) = try await api.list(Services.tenants, "ListMembers", ["tenant_id": .string(try await tenant.resolve(api))],
                                                   itemsField: "members", page: page)
            Render.many(items, columns: MembersCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }
}
