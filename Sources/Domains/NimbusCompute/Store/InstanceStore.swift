import Foundation
import NimbusBackground
import NimbusPostgres

/// SQL for compute.instances. Every query is parameterized; reads by callers filter on the
/// tenant; updates check the version (optimistic locking).
enum InstanceStore {
    static let columns = """
        i.id::text AS id, i.tenant_id::text AS tenant_id, i.created_by::text AS created_by, i.name, \
        i.image_id::text AS image_id, im.name AS image_name, i.image_ref, i.instance_type, t.vcpus, t.memory_mb, \
        i.vpc_id::text AS vpc_id, i.state, i.state_reason, i.exit_code, i.command::text AS command, i.env::text AS env, \
        i.env_sealed, i.ports::text AS ports, i.published::text AS published, i.labels::text AS labels, i.container_id, i.private_ip, \
        i.quota_key, i.quota_state, i.version, i.created_at, i.updated_at, i.launched_at
        """
    static let from = """
        compute.instances i JOIN compute.images im ON im.id = i.image_id JOIN compute.instance_types t ON t.id = i.instance_type
        """

    static func decode(_ row: PostgresRow) throws -> Instance {
        // Most of these jsonb columns are empty ("[]" or "{}" as PostgreSQL prints them): no
        // decoder for those (a JSONDecoder run per column was a sixth of a GetInstance's CPU).
        let decoder = JSONDecoder()
        func json<T: Decodable>(_ column: String, _ type: T.Type, empty: (text: String, value: T)) throws -> T {
            let text = try row.decode(String.self, column: column)
            if text == empty.text { return empty.value }
            return try decoder.decode(T.self, from: Data(text.utf8))
        }
        let state = try row.decode(String.self, column: "state")
        guard let instanceState = InstanceState(rawValue: state) else {
            throw PostgresError(kind: .decoding, message: "unknown instance state \(state)")
        }
        return Instance(
            id: try row.decode(String.self, column: "id"),
            tenantID: try row.decode(String.self, column: "tenant_id"),
            createdBy: try row.decode(String.self, column: "created_by"),
            name: try row.decode(String.self, column: "name"),
            imageID: try row.decode(String.self, column: "image_id"),
            imageName: try row.decode(String.self, column: "image_name"),
            imageRef: try row.decode(String.self, column: "image_ref"),
            instanceType: try row.decode(String.self, column: "instance_type"),
            vcpus: try row.decode(Int.self, column: "vcpus"),
            memoryMB: try row.decode(Int.self, column: "memory_mb"),
            vpcID: try row.decode(String?.self, column: "vpc_id"),
            machine: InstanceStateMachine(
                state: instanceState, reason: try row.decode(String.self, column: "state_reason"),
                exitCode: try row.decode(Int?.self, column: "exit_code")),
            command: try json("command", [String].self, empty: ("[]", [])),
            env: try row.decode(Data?.self, column: "env_sealed").map { .sealed(Array($0)) } ?? .plain(try json("env", [String: String].self, empty: ("{}", [:]))),
            ports: try json("ports", [InstancePort].self, empty: ("[]", [])),
            published: try json("published", [InstancePort].self, empty: ("[]", [])),
            labels: try json("labels", [String: String].self, empty: ("{}", [:])),
            containerID: try row.decode(String?.self, column: "container_id"),
            privateIP: try row.decode(String.self, column: "private_ip"),
            quotaKey: try row.decode(String.self, column: "quota_key"),
            quotaState: QuotaState(rawValue: try row.decode(String.self, column: "quota_state")) ?? .none,
            version: try row.decode(Int64.self, column: "version"),
            createdAt: try row.decode(Date.self, column: "created_at"),
            updatedAt: try row.decode(Date.self, column: "updated_at"),
            launchedAt: try row.decode(Date?.self, column: "launched_at"))
    }

    /// `sealedEnv` is the launch request's environment sealed for `id` (nil when empty); the
    /// plain `env` column stays '{}' for every row written since sealing.
    static func insert(_ c: PostgresConnection, id: String, tenantID: String, createdBy: String, request: LaunchRequest,
                       sealedEnv: [UInt8]?, image: ComputeImage, quotaKey: String) async throws -> Instance {
        do {
            _ = try await c.query("""
                INSERT INTO compute.instances (id, tenant_id, created_by, name, image_id, image_ref, instance_type, vpc_id,
                    command, env_sealed, ports, labels, quota_key, quota_state)
                VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5::uuid, $6, $7, $8::uuid, $9::jsonb, $10::bytea, $11::jsonb, $12::jsonb, $13, 'RESERVED')
                """, binds: [
                    id, tenantID, createdBy, request.name, image.id, image.reference, request.instanceType, request.vpcID,
                    try PostgresJSONB(encoding: request.command), sealedEnv.map { Data($0) },
                    try PostgresJSONB(encoding: request.ports), try PostgresJSONB(encoding: request.labels), quotaKey,
                ])
        } catch let error as PostgresError {
            throw ComputeError.mapping(error)
        }
        guard let instance = try await fetch(c, id: id, tenantID: tenantID) else { throw ComputeError.notFound("instance") }
        return instance
    }

    /// One instance of the tenant (nil tenant: any, for workers).
    static func fetch(_ c: PostgresConnection, id: String, tenantID: String?, lock: Bool = false) async throws -> Instance? {
        guard UUID(uuidString: id) != nil else { return nil }
        let rows = try await c.query("""
            SELECT \(columns) FROM \(from) WHERE i.id = $1::uuid AND ($2::uuid IS NULL OR i.tenant_id = $2::uuid)\(lock ? " FOR UPDATE OF i" : "")
            """, binds: [id, tenantID])
        return try rows.first.map(decode)
    }

    static func fetch(_ c: PostgresConnection, quotaKey: String) async throws -> Instance? {
        try await c.query("SELECT \(columns) FROM \(from) WHERE i.quota_key = $1", quotaKey).first.map(decode)
    }

    /// Writes the instance's state, runtime facts and quota state if the stored version is
    /// still `instance.version`; returns the stored instance (version + 1), nil when stale.
    static func update(_ c: PostgresConnection, _ instance: Instance, launched: Bool = false, terminated: Bool = false) async throws -> Instance? {
        let rows = try await c.query("""
            UPDATE compute.instances SET state = $3, state_reason = $4, exit_code = $5::integer, container_id = $6,
                private_ip = $7, published = $8::jsonb, quota_state = $9, worker_lease = NULL,
                version = version + 1, updated_at = now(),
                launched_at = CASE WHEN $10::boolean THEN now() ELSE launched_at END,
                terminated_at = CASE WHEN $11::boolean THEN now() ELSE terminated_at END
            WHERE id = $1::uuid AND version = $2::bigint
            RETURNING id::text AS id, tenant_id::text AS tenant_id
            """, binds: [
                instance.id, instance.version, instance.state.rawValue, instance.machine.reason, instance.machine.exitCode,
                instance.containerID, instance.privateIP, try PostgresJSONB(encoding: instance.published),
                instance.quotaState.rawValue, launched, terminated,
            ])
        guard !rows.isEmpty else { return nil }
        return try await fetch(c, id: instance.id, tenantID: nil)
    }

    static func list(_ c: PostgresConnection, tenantID: String, filter: InstanceFilter, after cursor: PageCursor?, limit: Int) async throws -> [Instance] {
        let rows = try await c.query("""
            SELECT \(columns) FROM \(from)
            WHERE i.tenant_id = $1::uuid
              AND ($2::text IS NULL OR i.state = $2)
              AND ($3::boolean OR $2::text IS NOT NULL OR i.state <> 'TERMINATED')
              AND ($4::uuid IS NULL OR i.vpc_id = $4::uuid)
              AND ($5::text IS NULL OR i.name = $5)
              AND i.labels @> $6::jsonb
              AND ($7::timestamptz IS NULL OR (i.created_at, i.id) > ($7::timestamptz, $8::uuid))
            ORDER BY i.created_at, i.id
            LIMIT $9::integer
            """, binds: [
                tenantID, filter.state?.rawValue, filter.includeTerminated, filter.vpcID, filter.name,
                try PostgresJSONB(encoding: filter.labels), cursor?.createdAt, cursor?.id, limit,
            ])
        return try rows.map(decode)
    }

    /// Instances in a transition, or with a quota to give back, claimed by one worker at a time
    /// (`update` clears the claim when it records the outcome).
    static let work = WorkClaims(
        table: "compute.instances", key: "id", claimColumn: "worker_lease",
        pending: "state IN ('PENDING', 'STOPPING', 'STARTING', 'REBOOTING', 'TERMINATING') OR quota_state = 'RELEASE_PENDING'",
        order: "updated_at")

    /// Claims up to `limit` instances a worker must act on (a transition in flight, or a quota
    /// release still owed), for `lease`, so another replica skips them.
    static func claimWork(_ c: PostgresConnection, limit: Int, lease: Duration) async throws -> [Instance] {
        let ids = try await work.claim(on: c, limit: limit, for: lease)
        var claimed: [Instance] = []
        for id in ids {
            if let instance = try await fetch(c, id: id, tenantID: nil) { claimed.append(instance) }
        }
        return claimed
    }

    /// Settled instances with a container, for the reconciler.
    static func settled(_ c: PostgresConnection) async throws -> [Instance] {
        try await c.query("SELECT \(columns) FROM \(from) WHERE i.state IN ('RUNNING', 'STOPPED', 'ERROR') AND i.container_id IS NOT NULL").map(decode)
    }

    /// Ids and states of every instance that is not TERMINATED (orphan detection).
    static func liveIDs(_ c: PostgresConnection) async throws -> Set<String> {
        Set(try await c.query("SELECT id::text AS id FROM compute.instances WHERE state <> 'TERMINATED'").map { try $0.decode(String.self, column: "id") })
    }
}

/// The position after the last item of a page, as an opaque token.
struct PageCursor: Sendable, Hashable {
    var createdAt: Date
    var id: String

    var token: String {
        Data("\(createdAt.timeIntervalSince1970.bitPattern):\(id)".utf8).base64EncodedString()
    }

    init(createdAt: Date, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    init(token: String) throws {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
            throw ComputeError.invalid("page_token is not valid")
        }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let bits = UInt64(parts[0]), UUID(uuidString: String(parts[1])) != nil else {
            throw ComputeError.invalid("page_token is not valid")
        }
        createdAt = Date(timeIntervalSince1970: Double(bitPattern: bits))
        id = String(parts[1])
    }

    /// Page size rules shared by every list: default 50, at most 500.
    static func limit(_ pageSize: Int) throws -> Int {
        guard pageSize >= 0 else { throw ComputeError.invalid("page_size must not be negative") }
        return pageSize == 0 ? 50 : min(pageSize, 500)
    }
}
