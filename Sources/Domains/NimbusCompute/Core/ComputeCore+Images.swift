import Foundation
import NimbusContainers
import Logging
import NimbusPlatform
import NimbusRPCCore
import NimbusPostgres

extension ComputeCore {
    static var imageNamePattern: Regex<(Substring, Substring?, Substring?)> { /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?(:[a-z0-9._-]{1,64})?$/ }
    /// Largest accepted root filesystem tarball.
    public static let maxImageBytes: Int64 = 1 << 30

    /// Imports a root filesystem tarball (already spooled to `tarballPath`) as the tenant's
    /// image `name`. The row is claimed first (unique name), the engine import follows, and a
    /// failure removes the claim.
    public func importImage(_ caller: Principal, name: String, description: String, tarballPath: String) async throws -> ComputeImage {
        try caller.require(.instanceManage)
        let tenantID = try Self.tenant(of: caller)
        guard name.wholeMatch(of: Self.imageNamePattern) != nil else {
            throw ComputeError.invalid("image name must be lower-case letters, digits, '.', '_', '-', optionally ':tag'")
        }
        guard description.utf8.count <= 1024 else { throw ComputeError.invalid("description: at most 1024 bytes") }
        let id = UUID().uuidString.lowercased()
        let reference = "localhost/nimbus/i-\(id.replacingOccurrences(of: "-", with: "")):latest"
        try await transaction { c in
            _ = try await c.query("""
                INSERT INTO compute.images (id, tenant_id, name, reference, description, state) VALUES ($1::uuid, $2::uuid, $3, $4, $5, 'IMPORTING')
                """, binds: [id, tenantID, name, reference, description])
        }
        do {
            let engineID = try await runtime.importImage(reference: reference, tarballPath: tarballPath)
            let size = (try? await runtime.inspectImage(reference).sizeBytes) ?? 0
            return try await transaction { c in
                guard let row = try await c.query("""
                    UPDATE compute.images SET state = 'AVAILABLE', engine_image_id = $2, size_bytes = $3::bigint, version = version + 1, updated_at = now()
                    WHERE id = $1::uuid RETURNING \(CatalogStore.imageColumns)
                    """, binds: [id, engineID, size]).first
                else { throw ComputeError.notFound("image") }
                try await Outbox.append(self.event(caller, "image.import", "image", id, ["name": name, "size_bytes": String(size)]), in: c)
                return try CatalogStore.image(row)
            }
        } catch {
            _ = try? await db.execute("DELETE FROM compute.images WHERE id = $1::uuid", id)
            try? await runtime.removeImage(reference, force: true)
            if let error = error as? ContainerRuntimeError, error.code == .invalidRequest || error.code == .engineFailure {
                throw ComputeError.invalid("the upload is not a root filesystem tarball the engine accepts: \(error.message)")
            }
            throw error
        }
    }

    public func images(_ caller: Principal, pageSize: Int, pageToken: String) async throws -> Page<ComputeImage> {
        try caller.require(.instanceRead)
        let tenantID = try Self.tenant(of: caller)
        let limit = try PageCursor.limit(pageSize)
        let cursor = try pageToken.isEmpty ? nil : PageCursor(token: pageToken)
        let rows = try await read { try await CatalogStore.images($0, tenantID: tenantID, after: cursor, limit: limit + 1) }
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last.map { PageCursor(createdAt: $0.createdAt, id: $0.id).token } ?? "" : ""
        return Page(items: items, nextPageToken: next)
    }

    public func image(_ caller: Principal, id: String) async throws -> ComputeImage {
        try caller.require(.instanceRead)
        let tenantID = try Self.tenant(of: caller)
        guard UUID(uuidString: id) != nil,
              let image = try await read({ try await CatalogStore.usableImage($0, tenantID: tenantID, idOrName: id) })
        else { throw ComputeError.notFound("image") }
        return image
    }

    /// The tenant's own images only; refused while an instance that is not TERMINATED uses it.
    public func deleteImage(_ caller: Principal, id: String) async throws {
        try caller.require(.instanceManage)
        let tenantID = try Self.tenant(of: caller)
        let reference: String = try await transaction { c in
            guard UUID(uuidString: id) != nil, let row = try await c.query("""
                SELECT \(CatalogStore.imageColumns) FROM compute.images WHERE id = $1::uuid AND state = 'AVAILABLE'
                  AND (tenant_id = $2::uuid OR tenant_id IS NULL) FOR UPDATE
                """, id, tenantID).first
            else { throw ComputeError.notFound("image") }
            let image = try CatalogStore.image(row)
            guard image.tenantID != nil else { throw ComputeError.precondition("platform images cannot be deleted") }
            let users = try await c.query("SELECT count(*)::bigint AS n FROM compute.instances WHERE image_id = $1::uuid AND state <> 'TERMINATED'", id)
            let count = try users.first?.decode(Int64.self, column: "n") ?? 0
            guard count == 0 else { throw ComputeError.precondition("the image is used by \(count) instance(s)") }
            _ = try await c.query("UPDATE compute.images SET state = 'DELETED', version = version + 1, updated_at = now() WHERE id = $1::uuid", id)
            try await Outbox.append(self.event(caller, "image.delete", "image", id, ["name": image.name]), in: c)
            return image.reference
        }
        do {
            try await runtime.removeImage(reference, force: true)
        } catch let error as ContainerRuntimeError where error.code == .notFound {
        } catch {
            logger.warning("image removal from the engine failed; it stays until the next attempt", metadata: ["image.id": "\(id)", "error": "\(error)"])
        }
    }
}
