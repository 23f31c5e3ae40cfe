import Foundation
import NimbusContainers
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import NimbusService
import NimbusTestSupport
import Testing
@testable import NimbusCompute

/// Instance environments are sealed at rest with NIMBUS_COMPUTE_KEK: nothing in compute's
/// schema (nor in a pg_dump of it) carries a value, the container still sees it, a wrong key
/// refuses to start without echoing a value, and rows from before sealing are sealed at start.
@Suite(.serialized) struct EnvironmentSealingTests {
    /// Every row of every table of the compute schema, as text.
    static func schemaText(_ pool: PostgresPool) async throws -> String {
        let tables = try await pool.query("SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'compute'")
            .map { try $0.decode(String.self, column: "t") }
        #expect(tables.contains("instances"))
        var text = ""
        for table in tables {
            for row in try await pool.query("SELECT t::text AS r FROM compute.\"\(table)\" t") {
                text += try row.decode(String.self, column: "r") + "\n"
            }
        }
        return text
    }

    /// pg_dump of the compute schema (data included). The PostgreSQL 15 binaries are required
    /// (the test server runs on them): a missing pg_dump fails rather than drops the check.
    static func pgDump(_ database: TestDatabase) throws -> String {
        let binary = "/usr/lib/postgresql/15/bin/pg_dump"  // missing: Shell.check throws (exit 127)
        let dsn = database.tcpAdminDSN.overriding(database: database.name)
        return try Shell.check([binary, "--schema=compute", "--no-owner", "-d", dsn.raw])
    }

    @Test func launchSealsTheEnvironmentAtRestAndTheContainerStillSeesIt() async throws {
        let harness = try await ComputeHarness.start()
        let caller = ComputeHarness.principal()
        let secret = "s3cr3t-\(UUID().uuidString)"
        do {
            let launched = try await harness.core.launch(caller, LaunchRequest(
                name: "sealed-env", image: "busybox", command: ["sh", "-c", "echo \"DB_PASSWORD=$DB_PASSWORD\"; exec sleep 600"],
                env: ["DB_PASSWORD": secret, "MODE": "prod"]))
            guard case .sealed(let envelope) = launched.env else {
                Issue.record("the stored environment is not sealed: \(launched.env)")
                throw CancellationError()
            }
            #expect(!String(decoding: envelope, as: UTF8.self).contains(secret))

            let running = try await harness.waitFor(caller, launched.id) { $0.state != .pending }
            #expect(running.state == .running, "\(running.machine.reason)")
            #expect(try await eventually {
                var logs = ""
                for try await chunk in try await harness.core.logs(caller, id: launched.id, follow: false, tail: 0) {
                    logs += String(decoding: chunk.data, as: UTF8.self)
                }
                return logs.contains("DB_PASSWORD=\(secret)")
            }, "the container sees the plain value")

            let stored = try await Self.schemaText(harness.pool)
            #expect(stored.contains(launched.id), "the dump covers the instance row")
            #expect(!stored.contains(secret), "a value of the environment is in compute's tables")
            #expect(!stored.contains("\"MODE\""), "the names are inside the envelope too")
            let dump = try Self.pgDump(harness.database)
            #expect(dump.contains("env_sealed") && dump.contains(launched.id), "the dump covers the instance")
            #expect(!dump.contains(secret), "pg_dump of the compute schema shows the value")

            // Values for callers who manage instances, names only for read-only ones.
            #expect(try harness.core.visibleEnvironment(caller, running) == ["DB_PASSWORD": secret, "MODE": "prod"])
            let viewer = ComputeHarness.principal(tenant: caller.tenantID, permissions: [.instanceRead])
            let seen = try await harness.core.instance(viewer, id: launched.id)
            #expect(try harness.core.visibleEnvironment(viewer, seen) == ["DB_PASSWORD": ComputeCore.maskedValue, "MODE": ComputeCore.maskedValue])
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func aWrongKeyRefusesToStartAndNamesTheSettingNotTheValue() async throws {
        let harness = try await ComputeHarness.start(withReconciler: false)
        let caller = ComputeHarness.principal()
        let secret = "s3cr3t-\(UUID().uuidString)"
        do {
            let launched = try await harness.core.launch(caller, LaunchRequest(name: "keyed", image: "busybox", command: ["sleep", "600"],
                                                                               env: ["DB_PASSWORD": secret]))
            do {
                _ = try await ComputeCore.make(db: harness.pool, runtime: harness.podman.runtime, quota: harness.quota,
                                               envCipher: try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.otherKEK), logger: ComputeHarness.logger)
                Issue.record("a core with another key started")
            } catch let error as ConfigError {
                #expect(error.setting == "NIMBUS_COMPUTE_KEK")
                #expect(error.description.contains("does not open"))
                #expect(!error.description.contains(secret))
            }
            // The wrong key opening one envelope directly: a clear error, no plaintext.
            let other = try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.otherKEK)
            #expect {
                _ = try other.open(launched.env, instanceID: launched.id)
            } throws: { error in
                "\(error)".contains("NIMBUS_COMPUTE_KEK") && !"\(error)".contains(secret)
            }
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func anEnvelopeCopiedToAnotherInstanceDoesNotOpen() throws {
        let cipher = try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.testKEK)
        let a = UUID().uuidString.lowercased(), b = UUID().uuidString.lowercased()
        let sealed = try #require(try cipher.seal(["TOKEN": "t0k3n"], instanceID: a))
        #expect(try cipher.open(sealed, instanceID: a) == ["TOKEN": "t0k3n"])
        #expect(throws: EnvironmentSealError.self) { try cipher.open(sealed, instanceID: b) }
        var tampered = sealed
        tampered[tampered.count - 20] ^= 1
        #expect(throws: EnvironmentSealError.self) { try cipher.open(tampered, instanceID: a) }
        #expect(try cipher.seal([:], instanceID: a) == nil, "an empty environment stores nothing to open")
    }

    @Test func plainEnvironmentsFromBeforeSealingAreSealedAtStart() async throws {
        let harness = try await ComputeHarness.start(withReconciler: false)
        let secret = "s3cr3t-\(UUID().uuidString)"
        do {
            // A row as a version before 0002 wrote it: plain env, no container (the workers skip it).
            let id = UUID().uuidString.lowercased()
            _ = try await harness.pool.execute("""
                INSERT INTO compute.instances (id, tenant_id, created_by, name, image_id, image_ref, instance_type, state, env, quota_key)
                SELECT $1::uuid, gen_random_uuid(), gen_random_uuid(), 'legacy', id, reference, 'basic-1', 'STOPPED', $2::jsonb, $1
                FROM compute.images WHERE name = 'busybox'
                """, id, try PostgresJSONB(encoding: ["DB_PASSWORD": secret]))
            #expect(try await Self.schemaText(harness.pool).contains(secret), "the fixture is plain")

            let core = try await ComputeCore.make(db: harness.pool, runtime: harness.podman.runtime, quota: harness.quota,
                                                  envCipher: try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.testKEK), logger: ComputeHarness.logger)
            #expect(!(try await Self.schemaText(harness.pool).contains(secret)), "start-up sealed the plain row")
            let row = try #require(try await harness.pool.withConnection { try await InstanceStore.fetch($0, id: id, tenantID: nil) })
            guard case .sealed = row.env else { Issue.record("still plain"); return }
            #expect(try core.envCipher.open(row.env, instanceID: id) == ["DB_PASSWORD": secret])
            #expect(try await core.sealPlainEnvironments() == 0, "a second pass finds nothing")
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func aRotatedKeyOpensOldEnvelopesAndStartUpResealsThemUnderTheNewOne() async throws {
        let harness = try await ComputeHarness.start(withReconciler: false)
        let caller = ComputeHarness.principal()
        let secret = "s3cr3t-\(UUID().uuidString)"
        do {
            let launched = try await harness.core.launch(caller, LaunchRequest(name: "rotated", image: "busybox", command: ["sleep", "600"],
                                                                               env: ["DB_PASSWORD": secret]))
            // The new key alone refuses to start, and says where the old key goes.
            do {
                _ = try await ComputeCore.make(db: harness.pool, runtime: harness.podman.runtime, quota: harness.quota,
                                               envCipher: try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.otherKEK), logger: ComputeHarness.logger)
                Issue.record("a core with only the new key started")
            } catch let error as ConfigError {
                #expect(error.description.contains("NIMBUS_COMPUTE_KEK_PREVIOUS"))
            }

            let rotated = try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.otherKEK, previousKeys: [ComputeHarness.testKEK])
            #expect(try rotated.open(launched.env, instanceID: launched.id) == ["DB_PASSWORD": secret], "old envelopes open")
            let core = try await ComputeCore.make(db: harness.pool, runtime: harness.podman.runtime, quota: harness.quota,
                                                  envCipher: rotated, logger: ComputeHarness.logger)
            let row = try #require(try await harness.pool.withConnection { try await InstanceStore.fetch($0, id: launched.id, tenantID: nil) })
            guard case .sealed(let envelope) = row.env else { Issue.record("not sealed: \(row.env)"); throw CancellationError() }
            #expect(EnvelopeCipher.keyID(of: envelope) == rotated.keyID)
            #expect(!rotated.isSealedUnderPreviousKey(envelope))
            #expect(try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.otherKEK).open(row.env, instanceID: launched.id) == ["DB_PASSWORD": secret],
                    "after start-up the new key alone opens it")
            #expect(throws: EnvironmentSealError.self, "the retired key no longer opens it") {
                try InstanceEnvCipher(keyEncryptionKey: ComputeHarness.testKEK).open(row.env, instanceID: launched.id)
            }
            #expect(try await core.resealUnderCurrentKey() == 0, "a second pass finds nothing")
            #expect(!(try await Self.schemaText(harness.pool).contains(secret)))
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func previousKeysComeFromConfigAndAreCheckedWithoutEchoingThem() throws {
        let current = ComputeHarness.otherKEK.reveal()
        let twoPrevious = ComputeHarness.testKEK.reveal() + " , " + Base64URL.encode(Array(repeating: 7, count: 32))
        let cipher = try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: [
            "NIMBUS_COMPUTE_KEK": current, "NIMBUS_COMPUTE_KEK_PREVIOUS": twoPrevious + "," + current,
        ]))
        #expect(cipher.previousKeyIDs.count == 2, "the current key is not also a previous one")
        let malformed = "old-password-hunter2"
        #expect {
            _ = try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: ["NIMBUS_COMPUTE_KEK": current, "NIMBUS_COMPUTE_KEK_PREVIOUS": malformed]))
        } throws: { error in
            (error as? ConfigError)?.setting == "NIMBUS_COMPUTE_KEK_PREVIOUS" && !"\(error)".contains(malformed)
        }
    }

    @Test func theKeyComesFromConfigAndIsCheckedWithoutEchoingIt() throws {
        #expect {
            _ = try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: [:]))
        } throws: { ($0 as? ConfigError)?.setting == "NIMBUS_COMPUTE_KEK" && "\($0)".contains("is not set") }
        let malformed = "not-a-key-but-a-password-hunter2"
        #expect {
            _ = try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: ["NIMBUS_COMPUTE_KEK": malformed]))
        } throws: { error in
            (error as? ConfigError)?.setting == "NIMBUS_COMPUTE_KEK" && "\(error)".contains("32") && !"\(error)".contains(malformed)
        }
        let short = Base64URL.encode(Array(repeating: 1, count: 16))
        #expect(throws: ConfigError.self) { try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: ["NIMBUS_COMPUTE_KEK": short])) }
        let good = try InstanceEnvCipher.fromEnvironment(ConfigSource(environment: ["NIMBUS_COMPUTE_KEK": ComputeHarness.testKEK.reveal()]))
        #expect(good.keyID.hasPrefix("compute-kek-"))
        #expect(!"\(good)".contains(ComputeHarness.testKEK.reveal()), "the key never prints")
    }
}
