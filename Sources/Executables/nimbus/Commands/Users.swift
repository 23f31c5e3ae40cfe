import Foundation
import ArgumentParser
import NimbusProtoJSON

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Users of your tenant.",
        subcommands: [Create.self, Get.self, List.self, Update.self, Deactivate.self, Delete.self])

    static let columns = [Column("ID", "id"), Column("EMAIL", "email"), Column("NAME", "name"),
                          Column("ACTIVE", "isActive"), Column("ADMIN", "isPlatformAdmin"), Column("CREATED", "createTime")]

    struct Create: APICommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and make them a member of your tenant.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Email address (unique, case-insensitive).") var email: String
        @Option(help: "Display name.") var name: String
        @Flag(help: "Read the initial password from standard input (else NIMBUS_NEW_PASSWORD or a prompt).") var passwordStdin = false
        @Option(help: "Role in your tenant: admin, developer, viewer or a custom role.") var role: String?
        @Flag(help: "Make the user a platform admin (platform admins only).") var platformAdmin = false

        func execute(_ api: APIClient) async throws {
            var password = ProcessInfo.processInfo.environment["NIMBUS_NEW_PASSWORD"]
            if passwordStdin || password == nil { password = Terminal.readSecret(prompt: "Password for \(email): ") }
            guard let password, !password.isEmpty else { throw CLIError.usage("a password is required") }
            var request: JSONObject = ["email": .string(email), "name": .string(name), "password": .string(password)]
            request.set("role", role)
            if platformAdmin { request["is_platform_admin"] = .bool(true) }
            Render.one(try await api.call(Services.users, "CreateUser", request), format: api.settings.output)
        }
    }

    struct Get: APICommand {
        static let configuration = CommandConfiguration(abstract: "Show a user.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        func execute(_ api: APIClient) async throws {
            Render.one(try await api.call(Services.users, "GetUser", ["id": .string(id)]), format: api.settings.output)
        }
    }

    struct List: APICommand {
        static let configuration = CommandConfiguration(abstract: "List the members of your tenant.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        func execute(_ api: APIClient) async throws {
            let (items, next) = try await api.list(Services.users, "ListUsers", [:], itemsField: "users", page: page)
            Render.many(items, columns: UsersCommand.columns, format: api.settings.output, nextPageToken: next)
        }
    }

    struct Update: APICommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's name, email, password or default tenant.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        @Option(help: "The version you read (optimistic locking); default: the current one.") var version: Int?
        @Option var name: String?
        @Option var email: String?
        @Flag(help: "Read a new password from standard input.") var passwordStdin = false
        @Option(help: "Default tenant id.") var defaultTenant: String?

        func execute(_ api: APIClient) async throws {
            var request: JSONObject = ["id": .string(id)]
            request.set("version", try await currentVersion(api))
            request.set("name", name)
            request.set("email", email)
            request.set("default_tenant_id", defaultTenant)
            if passwordStdin { request.set("password", Terminal.readSecret(prompt: "New password: ")) }
            Render.one(try await api.call(Services.users, "UpdateUser", request), format: api.settings.output)
        }

        func currentVersion(_ api: APIClient) async throws -> Int {
            if let version { return version }
            let user = try await api.call(Services.users, "GetUser", ["id": .string(id)])
            return Int(user["version"]?.stringValue ?? "") ?? 0
        }
    }

    struct Deactivate: APICommand {
        static let configuration = CommandConfiguration(abstract: "Deactivate a user: no more logins, their keys stop working at once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        @Option(help: "The version you read; default: the current one.") var version: Int?
        func execute(_ api: APIClient) async throws {
            var current = version
            if current == nil {
                let user = try await api.call(Services.users, "GetUser", ["id": .string(id)])
                current = Int(user["version"]?.stringValue ?? "")
            }
            var request: JSONObject = ["id": .string(id)]
            request.set("version", current)
            Render.one(try await api.call(Services.users, "DeactivateUser", request), format: api.settings.output)
        }
    }

    struct Delete: APICommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "User id.") var id: String
        func execute(_ api: APIClient) async throws {
            _ = try await api.call(Services.users, "DeleteUser", ["id": .string(id)])
            Terminal.note("deleted user \(id)")
        }
    }
}
