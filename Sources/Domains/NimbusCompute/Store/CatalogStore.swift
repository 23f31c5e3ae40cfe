import Foundation
import NimbusBackground
import NimbusPostgres
import NimbusRPCCore

/// SQL for instance types, images and VPCs.
enum CatalogStore {
    // MARK: instance types

    static func instanceTypes(_ c: PostgresConnection) async throws -> [InstanceType] {
        try await c.query("""
            SELECT id, name, vcpus, memory_mb, disk_gb, network_mbps, price_per_hour::text AS price, category
            FROM compute.instance_types ORDER BY vcpus, memory_mb, id
            """).map(instanceType)
    }

    static func instanceType(_ c: PostgresConnection, id: String) async throws -> InstanceType? {
        try await c.query("""
            SELECT id, name, vcpus, memory_mb, disk_gb, network_mbps, price_per_hour::text AS price, category
            FROM compute.instance_types WHERE id = $1
            """, id).first.map(instanceType)
    }

    static func instanceType(_ row: PostgresRow) throws -> InstanceType {
        InstanceType(
            id: try row.decode(String.self, column: "id"), name: try row.decode(String.self, column: "name"),
            vcpus: try row.decode(Int.self, column: "vcpus"), memoryMB: try row.decode(Int.self, column: "memory_mb"),
            diskGB: try row.decode(Int.self, column: "disk_gb"), networkMbps: try row.decode(Int.self, column: "network_mbps"),
            pricePerHour: try row.decode(String.self, column: "price"), category: try row.decode(String.self, column: "category"))
    }

    // MARK: images

    static let imageColumns = "id::text AS id, tenant_id::text AS tenant_id, name, reference, description, size_bytes, created_at"

    static func image(_ row: PostgresRow) throws -> ComputeImage {
        ComputeImage(
            id: try row.decode(String.self, column: "id"), tenantID: try row.decode(String?.self, column: "tenant_id"),
            name: try row.decode(String.self, column: "name"), reference: try row.decode(String.self, column: "reference"),
            description: try row.decode(String.self, column: "description"), sizeBytes: try row.decode(Int64.self, column: "size_bytes"),
            createdAt: try row.decode(Date.self, column: "created_at"))
    }

    /// An image the tenant may use, by id or name: its own first, then the platform's.
    static func usableImage(_ c: PostgresConnection, tenantID: String, idOrName: String) async throws -> ComputeImage? {
        let byID = UUID(uuidString: idOrName) != nil
        return try await c.query("""
            SELECT \(imageColumns) FROM compute.images
            WHERE state = 'AVAILABLE' AND (tenant_id = $1::uuid OR tenant_id IS NULL)
              AND (CASE WHEN $3::boolean THEN id::text = lower($2::text) ELSE name = $2::text END)
            ORDER BY tenant_id NULLS LAST LIMIT 1
            """, binds: [tenantID, idOrName, byID]).first.map(image)
    }

    static func images(_ c: PostgresConnection, tenantID: String, after cursor: PageCursor?, limit: Int) async throws -> [ComputeImage] {
        try await c.query("""
            SELECT \(imageColumns) FROM compute.images
            WHERE state = 'AVAILABLE' AND (tenant_id = $1::uuid OR tenant_id IS NULL)
              AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
            ORDER BY created_at, id LIMIT $4::integer
            """, binds: [tenantID, cursor?.createdAt, cursor?.id, limit]).map(image)
    }

    // MARK: VPCs

    static let vpcColumns = "id::text AS id, tenant_id::text AS tenant_id, name, cidr::text AS cidr, network_name, bridge_name, version, created_at"

    static func vpc(_ row: PostgresRow) throws -> VPC {
        VPC(
            id: try row.decode(String.self, column: "id"), tenantID: try row.decode(String.self, column: "tenant_id"),
            name: try row.decode(String.self, column: "name"), cidr: try row.decode(String.self, column: "cidr"),
            networkName: try row.decode(String.self, column: "network_name"), bridgeName: try row.decode(String.self, column: "bridge_name"),
            version: try row.decode(Int64.self, column: "version"), createdAt: try row.decode(Date.self, column: "created_at"))
    }

    static func vpc(_ c: PostgresConnection, id: String, tenantID: String?) async throws -> VPC? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await c.query("""
            SELECT \(vpcColumns) FROM compute.vpcs WHERE id = $1::uuid AND ($2::uuid IS NULL OR tenant_id = $2::uuid)
            """, binds: [id, tenantID]).first.map(vpc)
    }

    static func vpcs(_ c: PostgresConnection, tenantID: String, after cursor: PageCursor?, limit: Int) async throws -> [VPC] {
        try await c.query("""
            SELECT \(vpcColumns) FROM compute.vpcs WHERE tenant_id = $1::uuid
              AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
            ORDER BY created_at, id LIMIT $4::integer
            """, binds: [tenantID, cursor?.createdAt, cursor?.id, limit]).map(vpc)
    }
}

/// Audit events for identity, written in the caller's transaction: the shared outbox
/// (NimbusBackground) under topic "audit", delivered by `AuditRelay`.
enum Outbox {
    static let auditTopic = "audit"

    struct Event: Sendable, Codable {
        var tenantID: String
        var actorUserID: String
        var actorKeyID: String
        var action: String
        var resourceType: String
        var resourceID: String
        var outcome = "SUCCESS"
        var metadata: [String: String] = [:]

        enum CodingKeys: String, CodingKey {
            case tenantID = "tenant_id", actorUserID = "actor_user_id", actorKeyID = "actor_key_id", action
            case resourceType = "resource_type", resourceID = "resource_id", outcome, metadata
        }
    }

    static func append(_ event: Event, in c: PostgresConnection) async throws {
        guard UUID(uuidString: event.tenantID) != nil else { throw ComputeError(.internal, "an audit event needs a tenant") }
        try await NimbusBackground.Outbox(schema: .compute).append(event, topic: auditTopic, in: c)
    }
}
