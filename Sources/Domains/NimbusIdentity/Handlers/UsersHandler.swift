import NimbusPlatform
import NimbusProto
import NimbusRPCCore

struct UsersHandler: IdentityV1.UsersService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func createUser(_ request: IdentityV1.CreateUserRequest, context: ServerContext) async throws -> IdentityV1.User {
        let actor = try await caller.actor(context)
        return .init(try await core.createUser(actor, .init(email: request.email, name: request.name, password: request.password,
                                                             role: request.role, isPlatformAdmin: request.isPlatformAdmin)))
    }

    func getUser(_ request: IdentityV1.GetUserRequest, context: ServerContext) async throws -> IdentityV1.User {
        .init(try await core.getUser(try await caller.actor(context), id: request.id))
    }

    func listUsers(_ request: IdentityV1.ListUsersRequest, context: ServerContext) async throws -> IdentityV1.ListUsersResponse {
        let page = try await core.listUsers(try await caller.actor(context), pageSize: request.pageSize, pageToken: request.pageToken)
        return .init(users: page.users.map(IdentityV1.User.init), nextPageToken: page.next)
    }

    func updateUser(_ request: IdentityV1.UpdateUserRequest, context: ServerContext) async throws -> IdentityV1.User {
        let actor = try await caller.actor(context)
        return .init(try await core.updateUser(actor, id: request.id, version: request.version,
                                               .init(name: request.name, email: request.email, password: request.password,
                                                     defaultTenantID: request.defaultTenantId)))
    }

    func deactivateUser(_ request: IdentityV1.DeactivateUserRequest, context: ServerContext) async throws -> IdentityV1.User {
        .init(try await core.deactivateUser(try await caller.actor(context), id: request.id, version: request.version))
    }

    func deleteUser(_ request: IdentityV1.DeleteUserRequest, context: ServerContext) async throws -> IdentityV1.DeleteUserResponse {
        try await core.deleteUser(try await caller.actor(context), id: request.id)
        return .init()
    }
}

struct TenantsHandler: IdentityV1.TenantsService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func createTenant(_ request: IdentityV1.CreateTenantRequest, context: ServerContext) async throws -> IdentityV1.Tenant {
        .init(try await core.createTenant(try await caller.actor(context), name: request.name, slug: request.slug))
    }

    func getTenant(_ request: IdentityV1.GetTenantRequest, context: ServerContext) async throws -> IdentityV1.Tenant {
        .init(try await core.getTenant(try await caller.actor(context), id: request.id))
    }

    func listTenants(_ request: IdentityV1.ListTenantsRequest, context: ServerContext) async throws -> IdentityV1.ListTenantsResponse {
        let page = try await core.listTenants(try await caller.actor(context), pageSize: request.pageSize, pageToken: request.pageToken)
        return .init(tenants: page.tenants.map(IdentityV1.Tenant.init), nextPageToken: page.next)
    }

    func deleteTenant(_ request: IdentityV1.DeleteTenantRequest, context: ServerContext) async throws -> IdentityV1.DeleteTenantResponse {
        try await core.deleteTenant(try await caller.actor(context), id: request.id, force: request.force)
        return .init()
    }

    func addMember(_ request: IdentityV1.AddMemberRequest, context: ServerContext) async throws -> IdentityV1.Member {
        .init(try await core.addMember(try await caller.actor(context), tenantID: request.tenantId, userID: request.userId, role: request.role))
    }

    func updateMember(_ request: IdentityV1.UpdateMemberRequest, context: ServerContext) async throws -> IdentityV1.Member {
        .init(try await core.updateMember(try await caller.actor(context), tenantID: request.tenantId, userID: request.userId, role: request.role))
    }

    func removeMember(_ request: IdentityV1.RemoveMemberRequest, context: ServerContext) async throws -> IdentityV1.RemoveMemberResponse {
        try await core.removeMember(try await caller.actor(context), tenantID: request.tenantId, userID: request.userId)
        return .init()
    }

    func listMembers(_ request: IdentityV1.ListMembersRequest, context: ServerContext) async throws -> IdentityV1.ListMembersResponse {
        let page = try await core.listMembers(try await caller.actor(context), tenantID: request.tenantId,
                                              pageSize: request.pageSize, pageToken: request.pageToken)
        return .init(members: page.members.map(IdentityV1.Member.init), nextPageToken: page.next)
    }

    func setDefaultTenant(_ request: IdentityV1.SetDefaultTenantRequest, context: ServerContext) async throws -> IdentityV1.User {
        .init(try await core.setDefaultTenant(try await caller.actor(context), tenantID: request.tenantId))
    }
}

struct RolesHandler: IdentityV1.RolesService {
    let core: IdentityCore
    var caller: CallerResolver { CallerResolver(core: core) }

    func listRoles(_ request: IdentityV1.ListRolesRequest, context: ServerContext) async throws -> IdentityV1.ListRolesResponse {
        .init(roles: try await core.listRoles(try await caller.actor(context)).map(IdentityV1.Role.init))
    }

    func getRole(_ request: IdentityV1.GetRoleRequest, context: ServerContext) async throws -> IdentityV1.Role {
        .init(try await core.getRole(try await caller.actor(context), id: request.id))
    }

    func createRole(_ request: IdentityV1.CreateRoleRequest, context: ServerContext) async throws -> IdentityV1.Role {
        .init(try await core.createRole(try await caller.actor(context), name: request.name, description: request.description,
                                        permissions: request.permissions))
    }

    func updateRole(_ request: IdentityV1.UpdateRoleRequest, context: ServerContext) async throws -> IdentityV1.Role {
        .init(try await core.updateRole(try await caller.actor(context), id: request.id, description: request.description,
                                        permissions: request.permissions))
    }

    func deleteRole(_ request: IdentityV1.DeleteRoleRequest, context: ServerContext) async throws -> IdentityV1.DeleteRoleResponse {
        try await core.deleteRole(try await caller.actor(context), id: request.id)
        return .init()
    }

    func listPermissions(_ request: IdentityV1.ListPermissionsRequest, context: ServerContext) async throws -> IdentityV1.ListPermissionsResponse {
        _ = try await caller.actor(context)
        return .init(permissions: BuiltInRole.allTenantPermissions.map(\.rawValue).sorted())
    }
}
