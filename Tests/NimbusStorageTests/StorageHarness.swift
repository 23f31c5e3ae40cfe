import Foundation
import Logging
import NimbusHTTP
import NimbusPlatform
import NimbusPostgres
import NimbusService
import NimbusTestSupport
import Synchronization
@testable import NimbusStorage

/// Stands in for identity's quota service in core tests (the real one is exercised over RPC
/// by the Python suite): atomic per tenant, idempotent per key.
final class TestStorageQuota: StorageQuota {
    private let state = Mutex<(buckets: [String: Int], gb: [String: Int], keys: [String: (String, Int, Int)])>(([:], [:], [:]))
    let bucketLimit: Int
    let gbLimit: Int

    init(buckets: Int = 100, gb: Int = 1000) {
        bucketLimit = buckets
        gbLimit = gb
    }

    func used(_ tenant: String) -> (buckets: Int, gb: Int) { state.withLock { ($0.buckets[tenant] ?? 0, $0.gb[tenant] ?? 0) } }

    func reserve(tenantID: String, key: String, buckets: Int, storageGB: Int) async throws {
        try state.withLock { s in
            if s.keys[key] != nil { return }
            guard (s.buckets[tenantID] ?? 0) + buckets <= bucketLimit, (s.gb[tenantID] ?? 0) + storageGB <= gbLimit else {
                throw QuotaRefused("quota exceeded")
            }
            s.buckets[tenantID, default: 0] += buckets
            s.gb[tenantID, default: 0] += storageGB
            s.keys[key] = (tenantID, buckets, storageGB)
        }
    }

    func release(tenantID: String, key: String) async throws {
        state.withLock { s in
            guard let (tenant, b, g) = s.keys.removeValue(forKey: key) else { return }
            s.buckets[tenant, default: 0] -= b
            s.gb[tenant, default: 0] -= g
        }
    }
}

/// A migrated storage schema in a fresh database, a data directory of its own, the core and
/// the S3 face over them (requests go to `handle` directly: no sockets).
struct StorageHarness {
    let database: TestDatabase
    let pool: PostgresPool
    let dataDir: String
    let core: StorageCore
    let quota: TestStorageQuota
    let handler: S3Handler
    let signer: PrincipalSigner

    static let key = Secret(String(repeating: "s", count: 32))

    static func start(quota: TestStorageQuota = TestStorageQuota(), grace: Duration = .seconds(300)) async throws -> StorageHarness {
        let database = try await TestPostgres.shared.makeDatabase(prefix: "storage")
        let pool = try database.makePool(maxConnections: 8)
        let migrator = try Migrator(pool: pool, schema: "storage", migrations: MigrationRunner.migrations(for: StorageServiceDefinition.self))
        try await migrator.up()
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-storage-\(UUID().uuidString)").path
        let blobs = try FileBlobStore(root: dataDir)
        var logger = Logger(label: "storage-test")
        logger.logLevel = .warning
        let core = StorageCore(db: pool, blobs: blobs, quota: quota, logger: logger, grace: grace)
        let signer = try PrincipalSigner(key: key)
        let handler = S3Handler(core: core, auth: SignedPrincipalAuthenticator(verifier: signer),
                                settings: S3Handler.Settings(baseDomains: ["s3.localhost"]), logger: logger)
        return StorageHarness(database: database, pool: pool, dataDir: dataDir, core: core, quota: quota, handler: handler, signer: signer)
    }

    func stop() async {
        await pool.close()
        try? await database.drop()
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    static func principal(tenant: String = UUID().uuidString.lowercased(), permissions: Set<Permission> = [.bucketRead, .bucketWrite, .bucketManage]) -> Principal {
        Principal(userID: UUID().uuidString.lowercased(), tenantID: tenant, role: "developer", permissions: permissions, keyID: "key-1")
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func xml() throws -> XMLNode { try XMLNode.parse(body) }
        var errorCode: String? { (try? xml())?.value("Code") }
    }

    /// One S3 request as `caller` (nil: anonymous), body streamed in 64 KiB chunks.
    func send(_ caller: Principal?, _ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []) async -> Reply {
        var h = HTTPHeaders()
        h.add("host", "127.0.0.1:7003")
        for (name, value) in headers { h.add(name, value) }
        if let caller { h.add(PrincipalSigner.metadataKey, Data(signer.sign(caller)).base64EncodedString()) }
        let chunks = stride(from: 0, to: body.count, by: 65_536).map { body[$0..<min(body.count, $0 + 65_536)] }
        let iterator = Mutex(chunks.makeIterator())
        let source = ByteSource(expectedLength: Int64(body.count)) { iterator.withLock { $0.next() } }
        let response = await handler.handle(S3HTTPRequest(head: S3RequestHead(method: method, target: target, headers: h), body: source))
        switch response.body {
        case .bytes(let bytes): return Reply(status: response.status, headers: response.headers, body: bytes)
        case .stream(_, let produce):
            let out = Mutex<[UInt8]>([])
            do {
                try await produce { chunk in out.withLock { $0 += chunk } }
            } catch {
                return Reply(status: -1, headers: response.headers, body: Array("\(error)".utf8))
            }
            return Reply(status: response.status, headers: response.headers, body: out.withLock { $0 })
        }
    }

    /// Files in the data directory's blob tree.
    func blobFiles() -> [String] { FileSystem.regularFiles(under: dataDir + "/blobs") }
}
