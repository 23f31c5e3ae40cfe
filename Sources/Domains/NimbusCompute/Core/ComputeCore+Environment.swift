import Foundation
import Logging
import NimbusPlatform
import NimbusPostgres

/// Instance environments at rest: sealed on launch, opened for the engine, shown to callers
/// who may change the instance, masked for the others.
extension ComputeCore {
    /// What a masked environment value reads as.
    public static let maskedValue = "<redacted>"

    /// The environment as `caller` may see it: the values for holders of `instance:manage` (who
    /// launch and change instances, and so set these values), the names with every value
    /// masked for read-only callers (a viewer role must not learn a database password).
    public func visibleEnvironment(_ caller: Principal, _ instance: Instance) throws -> [String: String] {
        let env = try envCipher.open(instance.env, instanceID: instance.id)
        return caller.has(.instanceManage) ? env : env.mapValues { _ in Self.maskedValue }
    }

    /// Refuses to start when the configured key does not open what is stored: better a clear
    /// start-up error than instances failing one by one at their next launch.
    func checkEnvironmentKey() async throws {
        guard let (id, sealed) = try await read({ try await InstanceStore.newestSealed($0) }) else { return }
        do {
            _ = try envCipher.open(sealed, instanceID: id)
        } catch let error as EnvironmentSealError {
            throw ConfigError(setting: InstanceEnvCipher.setting, problem: "does not open the instance environments stored in compute.instances (\(error.detail)); is it the key they were sealed with? (after a rotation the old key belongs in \(InstanceEnvCipher.previousSetting))")
        }
    }

    /// Seals environments stored in plain text by a version before sealing, in small
    /// transactions (rows locked with SKIP LOCKED, so replicas starting together share the
    /// work). Returns how many rows were sealed. The old row versions stay in the table files
    /// until PostgreSQL vacuums them.
    @discardableResult
    func sealPlainEnvironments(batch: Int = 100) async throws -> Int {
        var sealed = 0
        while true {
            let count = try await transaction { c -> Int in
                let rows = try await InstanceStore.plainEnvironments(c, limit: batch)
                for row in rows {
                    guard let envelope = try envCipher.seal(row.env, instanceID: row.id) else { continue }
                    try await InstanceStore.storeSealed(c, id: row.id, sealed: envelope)
                }
                return rows.count
            }
            sealed += count
            if count < batch { break }
        }
        if sealed > 0 { logger.notice("sealed plain instance environments", metadata: ["instances": "\(sealed)"]) }
        return sealed
    }

    /// After a key rotation: re-seals environments sealed under a previous key with the current
    /// one, in small transactions like `sealPlainEnvironments`. Returns how many were re-sealed.
    @discardableResult
    func resealUnderCurrentKey(batch: Int = 100) async throws -> Int {
        let previous = envCipher.previousKeyIDs
        guard !previous.isEmpty else { return 0 }
        var resealed = 0
        while true {
            let count = try await transaction { c -> Int in
                let rows = try await InstanceStore.sealedUnder(c, keyIDs: previous, limit: batch)
                for row in rows {
                    let env = try envCipher.open(row.sealed, instanceID: row.id)
                    guard let envelope = try envCipher.seal(env, instanceID: row.id) else { continue }
                    try await InstanceStore.storeResealed(c, id: row.id, sealed: envelope)
                }
                return rows.count
            }
            resealed += count
            if count < batch { break }
        }
        logger.notice("instance environments are sealed under the current key", metadata: [
            "instances.resealed": "\(resealed)", "kek.id": "\(envCipher.keyID)",
            "hint": "\(InstanceEnvCipher.previousSetting) can be removed once every compute replica has started with this key",
        ])
        return resealed
    }
}
