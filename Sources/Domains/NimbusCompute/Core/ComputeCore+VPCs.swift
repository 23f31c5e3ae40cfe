import Foundation
import NimbusContainers
import NimbusPlatform
import NimbusRPCCore
import NimbusPostgres

extension ComputeCore {
    static func networkName(vpcID: String) -> String { "nimbus-vpc-\(vpcID)" }
    /// ≤ 15 characters (a Linux interface name).
    static func bridgeName(vpcID: String) -> String { "nv" + vpcID.replacingOccurrences(of: "-", with: "").prefix(12) }

    static func networkSpec(_ vpc: VPC) -> NetworkSpec {
        NetworkSpec(name: vpc.networkName, subnet: vpc.cidr,
                    labels: [ComputeLabels.managed: "true", ComputeLabels.vpc: vpc.id, ComputeLabels.tenant: vpc.tenantID],
                    isolated: true, bridgeName: vpc.bridgeName)
    }

    /// One transaction without retries: the body creates or removes an engine network, which
    /// must not happen twice. The engine change comes last, so a refusal rolls the row back.
    func engineTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await db.withTransaction { try await body($0) }
        } catch let error as PostgresError {
            throw ComputeError.mapping(error)
        }
    }

    func createNetwork(for vpc: VPC) async throws {
        do {
            _ = try await runtime.createNetwork(Self.networkSpec(vpc))
        } catch let error as ContainerRuntimeError where error.code == .conflict || error.code == .engineFailure || error.code == .invalidRequest {
            // Podman refuses a subnet another network on this host uses (409 or 500).
            throw ComputeError.precondition("the CIDR \(vpc.cidr) cannot be used on this host: \(error.message)")
        }
    }

    public func createVPC(_ caller: Principal, name: String, cidr: String) async throws -> VPC {
        try caller.require(.vpcManage)
        let tenantID = try Self.tenant(of: caller)
        guard name.wholeMatch(of: Self.namePattern) != nil else { throw ComputeError.invalid("name must be 1–63 lower-case letters, digits or '-'") }
        guard let network = IPv4CIDR(cidr) else { throw ComputeError.invalid("cidr must be an IPv4 network like 10.20.0.0/24 (no host bits set)") }
        guard (16...28).contains(network.prefixLength) else { throw ComputeError.invalid("cidr prefix must be /16 to /28") }
        guard network.isPrivate else { throw ComputeError.invalid("cidr must be private address space (10/8, 172.16/12, 192.168/16)") }
        let vpc = try await engineTransaction { c in
            try await self.insertVPC(c, caller: caller, tenantID: tenantID, name: name, cidr: network)
        }
        await syncFirewallAfterChange()
        return vpc
    }

    /// Inserts under the tenant's lock (no overlapping CIDRs), then creates the network.
    /// `networkLater`: an unreachable engine does not stop the row; the worker creates the
    /// network before the first instance needs it (the tenant's default VPC).
    private func insertVPC(_ c: PostgresConnection, caller: Principal, tenantID: String, name: String, cidr: IPv4CIDR,
                           networkLater: Bool = false) async throws -> VPC {
        _ = try await c.query("SELECT pg_advisory_xact_lock(hashtext('compute.vpcs:' || $1))", tenantID)
        let overlapping = try await c.query("""
            SELECT name FROM compute.vpcs WHERE tenant_id = $1::uuid AND cidr && $2::cidr LIMIT 1
            """, tenantID, cidr.description)
        if let row = overlapping.first {
            throw ComputeError(.failedPrecondition, "cidr \(cidr) overlaps VPC \(try row.decode(String.self, column: "name"))")
        }
        let id = UUID().uuidString.lowercased()
        guard let row = try await c.query("""
            INSERT INTO compute.vpcs (id, tenant_id, created_by, name, cidr, network_name, bridge_name)
            VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5::cidr, $6, $7) RETURNING \(CatalogStore.vpcColumns)
            """, binds: [id, tenantID, Self.user(of: caller), name, cidr.description, Self.networkName(vpcID: id), Self.bridgeName(vpcID: id)]).first
        else { throw ComputeError.notFound("VPC") }
        let vpc = try CatalogStore.vpc(row)
        try await Outbox.append(event(caller, "vpc.create", "vpc", id, ["name": name, "cidr": cidr.description]), in: c)
        do {
            try await createNetwork(for: vpc)
        } catch let error as ContainerRuntimeError where networkLater && error.code == .engineUnreachable {
        }
        return vpc
    }

    /// The tenant's `default` VPC, created on first use with a /24 from 10.128.0.0/9 that no
    /// other VPC uses.
    public func defaultVPC(_ caller: Principal) async throws -> VPC {
        let tenantID = try Self.tenant(of: caller)
        if let existing = try await read({ c in
            try await c.query("SELECT \(CatalogStore.vpcColumns) FROM compute.vpcs WHERE tenant_id = $1::uuid AND name = 'default'", tenantID).first.map(CatalogStore.vpc)
        }) { return existing }
        var attempts = 0
        while true {
            attempts += 1
            do {
                let vpc = try await engineTransaction { c in
                    _ = try await c.query("SELECT pg_advisory_xact_lock(hashtext('compute.vpcs:default-pool'))")
                    if let row = try await c.query("SELECT \(CatalogStore.vpcColumns) FROM compute.vpcs WHERE tenant_id = $1::uuid AND name = 'default'", tenantID).first {
                        return try CatalogStore.vpc(row)
                    }
                    let used = Set(try await c.query("SELECT cidr::text AS cidr FROM compute.vpcs WHERE cidr <<= '10.128.0.0/9'::cidr")
                        .map { try $0.decode(String.self, column: "cidr") })
                    var k = UInt32.random(in: 0..<32768)
                    var candidate = IPv4CIDR(address: 0x0A80_0000 + (k << 8), prefixLength: 24)
                    while used.contains(candidate.description) {
                        k = (k + 1) % 32768
                        candidate = IPv4CIDR(address: 0x0A80_0000 + (k << 8), prefixLength: 24)
                    }
                    return try await self.insertVPC(c, caller: caller, tenantID: tenantID, name: "default", cidr: candidate, networkLater: true)
                }
                await syncFirewallAfterChange()
                return vpc
            } catch let error as ComputeError where error.code == .failedPrecondition && attempts < 10 {
                continue  // the host uses that subnet: try another
            }
        }
    }

    public func vpc(_ caller: Principal, id: String) async throws -> VPC {
        try caller.require(.vpcRead)
        let tenantID = try Self.tenant(of: caller)
        guard let vpc = try await read({ try await CatalogStore.vpc($0, id: id, tenantID: tenantID) }) else { throw ComputeError.notFound("VPC") }
        return vpc
    }

    public func vpcs(_ caller: Principal, pageSize: Int, pageToken: String) async throws -> Page<VPC> {
        try caller.require(.vpcRead)
        let tenantID = try Self.tenant(of: caller)
        let limit = try PageCursor.limit(pageSize)
        let cursor = try pageToken.isEmpty ? nil : PageCursor(token: pageToken)
        let rows = try await read { try await CatalogStore.vpcs($0, tenantID: tenantID, after: cursor, limit: limit + 1) }
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last.map { PageCursor(createdAt: $0.createdAt, id: $0.id).token } ?? "" : ""
        return Page(items: items, nextPageToken: next)
    }

    /// Refused while an instance that is not TERMINATED uses the VPC.
    public func deleteVPC(_ caller: Principal, id: String) async throws {
        try caller.require(.vpcManage)
        let tenantID = try Self.tenant(of: caller)
        try await engineTransaction { c in
            guard UUID(uuidString: id) != nil, let row = try await c.query("""
                SELECT \(CatalogStore.vpcColumns) FROM compute.vpcs WHERE id = $1::uuid AND tenant_id = $2::uuid FOR UPDATE
                """, id, tenantID).first
            else { throw ComputeError.notFound("VPC") }
            let vpc = try CatalogStore.vpc(row)
            let users = try await c.query("SELECT count(*)::bigint AS n FROM compute.instances WHERE vpc_id = $1::uuid AND state <> 'TERMINATED'", id)
            let count = try users.first?.decode(Int64.self, column: "n") ?? 0
            guard count == 0 else { throw ComputeError.precondition("the VPC is used by \(count) instance(s); terminate them first") }
            _ = try await c.query("DELETE FROM compute.vpcs WHERE id = $1::uuid", id)
            try await Outbox.append(self.event(caller, "vpc.delete", "vpc", id, ["name": vpc.name]), in: c)
            do {
                try await self.runtime.removeNetwork(vpc.networkName)
            } catch let error as ContainerRuntimeError where error.code == .notFound {
                // Already gone.
            }
        }
        await syncFirewallAfterChange()
    }
}
