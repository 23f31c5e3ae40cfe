import Foundation
import NimbusContainers
import NimbusPlatform
import NimbusPostgres
import NimbusRPCCore
import NimbusTestSupport
import Testing
@testable import NimbusCompute

/// The compute core against a real PostgreSQL and a real podman: launch to RUNNING, the port
/// answers, stop/start, logs, terminate, things done behind Nimbus's back, quotas, tenancy.
@Suite(.serialized) struct ComputeCoreTests {
    static func httpServer(_ name: String, vpc: String? = nil, port: Int = 8080) -> LaunchRequest {
        LaunchRequest(name: name, image: "busybox", instanceType: "basic-1",
                      command: ["httpd", "-f", "-v", "-p", String(port), "-h", "/www"],
                      env: ["GREETING": "hi"], ports: [InstancePort(containerPort: port)], vpcID: vpc, labels: ["app": "web"])
    }

    @Test func launchesAnInstanceThatServesThroughItsLifeCycle() async throws {
        let harness = try await ComputeHarness.start()
        let caller = ComputeHarness.principal()
        do {
            let launched = try await harness.core.launch(caller, Self.httpServer("web-1"))
            #expect(launched.state == .pending)
            #expect(harness.quota.used(caller.tenantID).instances == 1)

            let running = try await harness.waitFor(caller, launched.id) { $0.state != .pending }
            #expect(running.state == .running, "\(running.machine.reason)")
            // Read back from the row: the JSON columns, filled (and empty ones in other tests).
            #expect(running.command == Self.httpServer("web-1").command && running.labels == ["app": "web"])
            #expect(running.ports == [InstancePort(containerPort: 8080)] && running.published.count == 1)
            let port = try #require(running.published.first?.hostPort)
            #expect(await eventually { (try? Loopback.get(port: port).body.contains("hello from nimbus busybox")) == true })
            let container = try await harness.podman.runtime.inspectContainer(try #require(running.containerID))
            #expect(container.resources == ContainerResources(nanoCPUs: 1_000_000_000, memoryBytes: 512 * 1024 * 1024))
            #expect(container.labels[ComputeLabels.instance] == launched.id)

            let stopping = try await harness.core.command(caller, .stop, id: launched.id)
            #expect(stopping.state == .stopping)
            let stopped = try await harness.waitFor(caller, launched.id) { $0.state == .stopped }
            #expect(stopped.state == .stopped)
            #expect(try Loopback.get(port: port).status != 0, "a stopped instance's port refuses")
            await #expect(throws: InvalidTransition.self) { try await harness.core.command(caller, .reboot, id: launched.id) }

            _ = try await harness.core.command(caller, .start, id: launched.id)
            let restarted = try await harness.waitFor(caller, launched.id) { $0.state == .running }
            let newPort = try #require(restarted.published.first?.hostPort)
            #expect(await eventually { (try? Loopback.get(port: newPort).body.contains("hello")) == true })

            var logs = ""
            for try await chunk in try await harness.core.logs(caller, id: launched.id, follow: false, tail: 0) {
                logs += String(decoding: chunk.data, as: UTF8.self)
            }
            #expect(logs.contains("response:200"), "httpd -v logs the requests")

            let stats = try await harness.core.stats(caller, id: launched.id)
            #expect(stats.stats.memoryLimitBytes == 512 * 1024 * 1024)

            await #expect(throws: ComputeError.self) { try await harness.core.command(caller, .stop, id: launched.id, expectedVersion: 1) }

            _ = try await harness.core.command(caller, .terminate, id: launched.id)
            let terminated = try await harness.waitFor(caller, launched.id) { $0.state == .terminated && $0.quotaState == .released }
            #expect(terminated.state == .terminated)
            #expect(terminated.quotaState == .released)
            #expect(harness.quota.used(caller.tenantID).instances == 0, "terminate releases the quota")
            let left = try await harness.podman.runtime.listContainers(labels: [.equals(ComputeLabels.instance, launched.id)], all: true)
            #expect(left.isEmpty, "the engine no longer lists the container")
            let events = try await harness.pool.query("SELECT payload->>'action' AS action FROM compute.outbox WHERE topic = 'audit' AND payload->>'resource_id' = $1 ORDER BY id", launched.id)
            let actions = try events.map { try $0.decode(String.self, column: "action") }
            #expect(actions.first == "instance.launch")
            #expect(actions.contains("instance.terminate"))
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func reflectsAContainerKilledBehindNimbussBack() async throws {
        let harness = try await ComputeHarness.start()
        let caller = ComputeHarness.principal()
        do {
            let launched = try await harness.core.launch(caller, LaunchRequest(name: "sleeper", image: "busybox", command: ["sleep", "600"]))
            let running = try await harness.waitFor(caller, launched.id) { $0.state == .running }
            try harness.podman.cli("kill", try #require(running.containerID))
            let started = ContinuousClock.now
            let seen = try await harness.waitFor(caller, launched.id, timeout: .seconds(10)) { $0.state != .running }
            #expect(seen.state == .error)
            #expect(seen.machine.exitCode == 137)
            #expect(ContinuousClock.now - started < .seconds(10))

            // Removed outside Nimbus: the reconciler says so.
            _ = try await harness.core.command(caller, .start, id: launched.id)
            let again = try await harness.waitFor(caller, launched.id) { $0.state == .running }
            try harness.podman.cli("rm", "-f", "-t", "0", try #require(again.containerID))
            // `rm -f` kills first: the reconciler may see the exit (ERROR, 137) before the removal.
            let gone = try await harness.waitFor(caller, launched.id, timeout: .seconds(10)) { $0.machine.reason.contains("removed") }
            #expect(gone.state == .error)
            #expect(gone.machine.reason.contains("removed"))
            _ = try await harness.core.command(caller, .terminate, id: launched.id)
            _ = try await harness.waitFor(caller, launched.id) { $0.state == .terminated }
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func concurrentLaunchesBeyondTheQuotaCreateExactlyTheQuota() async throws {
        let harness = try await ComputeHarness.start(quota: TestQuotaLedger(instances: 5))
        let caller = ComputeHarness.principal()
        do {
            let results = await withTaskGroup(of: Result<Instance, any Error>.self) { group in
                for n in 0..<20 {
                    group.addTask {
                        do { return .success(try await harness.core.launch(caller, LaunchRequest(name: "q-\(n)", image: "busybox", command: ["sleep", "600"]))) }
                        catch { return .failure(error) }
                    }
                }
                var all: [Result<Instance, any Error>] = []
                for await result in group { all.append(result) }
                return all
            }
            let launched = results.compactMap { try? $0.get() }
            let refusals = results.compactMap { result -> RPCCode? in
                if case .failure(let error) = result { return RPCError(mapping: error).code }
                return nil
            }
            #expect(launched.count == 5)
            #expect(refusals.count == 15)
            #expect(refusals.allSatisfy { $0 == .resourceExhausted })
            for instance in launched { _ = try await harness.waitFor(caller, instance.id) { $0.state == .running } }
            let containers = try await harness.podman.runtime.listContainers(labels: [.equals(ComputeLabels.tenant, caller.tenantID)], all: true)
            #expect(containers.count == 5)
            let rows = try await harness.pool.query("SELECT count(*)::bigint AS n FROM compute.instances WHERE tenant_id = $1::uuid", caller.tenantID)
            #expect(try rows.first?.decode(Int64.self, column: "n") == 5)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func anotherTenantSeesNothing() async throws {
        let harness = try await ComputeHarness.start()
        let owner = ComputeHarness.principal()
        let stranger = ComputeHarness.principal()
        do {
            let launched = try await harness.core.launch(owner, LaunchRequest(name: "private", image: "busybox", command: ["sleep", "600"]))
            for attempt in [
                { _ = try await harness.core.instance(stranger, id: launched.id) },
                { _ = try await harness.core.command(stranger, .stop, id: launched.id) },
                { _ = try await harness.core.command(stranger, .terminate, id: launched.id) },
            ] as [@Sendable () async throws -> Void] {
                let error = await #expect(throws: ComputeError.self) { try await attempt() }
                #expect(error?.code == .notFound)
            }
            #expect(try await harness.core.instances(stranger, filter: InstanceFilter(), pageSize: 0, pageToken: "").items.isEmpty)
            let viewer = Principal(userID: owner.userID, tenantID: owner.tenantID, role: "viewer", permissions: [.instanceRead])
            await #expect(throws: AuthorizationError.self) { try await harness.core.command(viewer, .stop, id: launched.id) }
            #expect(try await harness.core.instance(viewer, id: launched.id).id == launched.id)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func listsWithFiltersAndPages() async throws {
        let harness = try await ComputeHarness.start(runtime: DockerEngineRuntime(socket: "/nonexistent/engine.sock"))
        let caller = ComputeHarness.principal()
        do {
            // The engine is unreachable: each launch fails cleanly, leaving ERROR instances to list.
            for n in 0..<5 {
                let error = await #expect(throws: ContainerRuntimeError.self) {
                    try await harness.core.launch(caller, LaunchRequest(name: "down-\(n)", image: "busybox", labels: ["n": "\(n % 2)"]))
                }
                #expect(error.map { RPCError(mapping: $0).code } == .unavailable)
            }
            #expect(harness.quota.used(caller.tenantID).instances == 0, "failed launches release their quota")
            let page1 = try await harness.core.instances(caller, filter: InstanceFilter(), pageSize: 2, pageToken: "")
            #expect(page1.items.count == 2)
            #expect(page1.items.allSatisfy { $0.state == .error && $0.machine.reason.contains("unavailable") })
            let page2 = try await harness.core.instances(caller, filter: InstanceFilter(), pageSize: 2, pageToken: page1.nextPageToken)
            let page3 = try await harness.core.instances(caller, filter: InstanceFilter(), pageSize: 2, pageToken: page2.nextPageToken)
            #expect(page3.items.count == 1)
            #expect(page3.nextPageToken.isEmpty)
            #expect(Set((page1.items + page2.items + page3.items).map(\.name)).count == 5)
            let odd = try await harness.core.instances(caller, filter: InstanceFilter(labels: ["n": "1"]), pageSize: 0, pageToken: "")
            #expect(odd.items.count == 2)
            await #expect(throws: ComputeError.self) {
                try await harness.core.instances(caller, filter: InstanceFilter(), pageSize: 2, pageToken: "not-a-token")
            }
            await #expect(throws: ComputeError.self) {
                try await harness.core.launch(caller, LaunchRequest(name: "Bad Name", image: "busybox"))
            }
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }
}

@Suite(.serialized) struct ComputeCatalogTests {
    @Test func importsAnImageThatInstancesRunAndRefusesDeletingItWhileUsed() async throws {
        let harness = try await ComputeHarness.start()
        let caller = ComputeHarness.principal()
        let work = NSTemporaryDirectory() + Unique.name("nbt-image")
        defer { try? FileManager.default.removeItem(atPath: work) }
        do {
            try FileManager.default.createDirectory(atPath: work + "/root/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: work + "/root/bin/busybox")
            try FileManager.default.createSymbolicLink(atPath: work + "/root/bin/sh", withDestinationPath: "busybox")
            try FileManager.default.createSymbolicLink(atPath: work + "/root/bin/sleep", withDestinationPath: "busybox")
            try Shell.check(["tar", "-C", work + "/root", "-czf", work + "/rootfs.tar.gz", "."])

            let image = try await harness.core.importImage(caller, name: "tools:v1", description: "a test image", tarballPath: work + "/rootfs.tar.gz")
            #expect(image.tenantID == caller.tenantID)
            #expect(image.sizeBytes > 0)
            let listed = try await harness.core.images(caller, pageSize: 0, pageToken: "").items.map(\.name)
            #expect(listed.contains("tools:v1") && listed.contains("busybox"))
            let stranger = ComputeHarness.principal()
            #expect(try await harness.core.images(stranger, pageSize: 0, pageToken: "").items.map(\.name) == ["busybox"])
            await #expect(throws: ComputeError.self) { try await harness.core.importImage(caller, name: "tools:v1", description: "", tarballPath: work + "/rootfs.tar.gz") }
            await #expect(throws: ComputeError.self) { try await harness.core.importImage(caller, name: "Bad Name", description: "", tarballPath: work + "/rootfs.tar.gz") }

            let launched = try await harness.core.launch(caller, LaunchRequest(name: "from-import", image: "tools:v1", command: ["sleep", "600"]))
            #expect(try await harness.waitFor(caller, launched.id) { $0.state != .pending }.state == .running)
            let inUse = await #expect(throws: ComputeError.self) { try await harness.core.deleteImage(caller, id: image.id) }
            #expect(inUse?.code == .failedPrecondition)
            let platformImage = try #require(try await harness.core.images(caller, pageSize: 0, pageToken: "").items.first { $0.tenantID == nil })
            await #expect(throws: ComputeError.self) { try await harness.core.deleteImage(caller, id: platformImage.id) }

            _ = try await harness.core.command(caller, .terminate, id: launched.id)
            _ = try await harness.waitFor(caller, launched.id) { $0.state == .terminated }
            try await harness.core.deleteImage(caller, id: image.id)
            #expect(!(try await harness.core.images(caller, pageSize: 0, pageToken: "").items.map(\.name).contains("tools:v1")))
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func vpcsValidateTheirCIDRsAndRefuseDeletionWhileUsed() async throws {
        let harness = try await ComputeHarness.start()
        let caller = ComputeHarness.principal()
        do {
            for bad in ["10.0.0.1/24", "8.8.8.0/24", "10.0.0.0/8", "10.0.0.0/30", "nonsense", "10.0.0.0/33"] {
                let error = await #expect(throws: ComputeError.self) { try await harness.core.createVPC(caller, name: "bad", cidr: bad) }
                #expect(error?.code == .invalidArgument, "\(bad)")
            }
            let octet = Int.random(in: 0...200)
            let vpc = try await harness.core.createVPC(caller, name: "main", cidr: "172.30.\(octet).0/24")
            let overlap = await #expect(throws: ComputeError.self) { try await harness.core.createVPC(caller, name: "other", cidr: "172.30.\(octet).64/26") }
            #expect(overlap?.code == .failedPrecondition)
            let duplicate = await #expect(throws: ComputeError.self) { try await harness.core.createVPC(caller, name: "main", cidr: "172.30.\(octet + 1).0/24") }
            #expect(duplicate?.code == .alreadyExists)
            #expect(try await harness.podman.runtime.inspectNetwork(vpc.networkName).subnets == [vpc.cidr])

            let launched = try await harness.core.launch(caller, LaunchRequest(name: "in-vpc", image: "busybox", command: ["sleep", "600"], vpcID: vpc.id))
            let running = try await harness.waitFor(caller, launched.id) { $0.state != .pending }
            #expect(running.privateIP.hasPrefix("172.30.\(octet)."))
            let inUse = await #expect(throws: ComputeError.self) { try await harness.core.deleteVPC(caller, id: vpc.id) }
            #expect(inUse?.code == .failedPrecondition)
            let notMine = await #expect(throws: ComputeError.self) { try await harness.core.deleteVPC(ComputeHarness.principal(), id: vpc.id) }
            #expect(notMine?.code == .notFound)

            _ = try await harness.core.command(caller, .terminate, id: launched.id)
            _ = try await harness.waitFor(caller, launched.id) { $0.state == .terminated }
            try await harness.core.deleteVPC(caller, id: vpc.id)
            let gone = await #expect(throws: ContainerRuntimeError.self) { try await harness.podman.runtime.inspectNetwork(vpc.networkName) }
            #expect(gone?.code == .notFound)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func oneReconcilerHoldsTheLeaseAndAnotherTakesOverWhenItStops() async throws {
        let harness = try await ComputeHarness.start(withReconciler: false)
        do {
            let first = Reconciler(core: harness.core, leaseTTL: .seconds(1), holder: "replica-a")
            let second = Reconciler(core: harness.core, leaseTTL: .seconds(1), holder: "replica-b")
            #expect(try await first.acquireLease())
            #expect(try await !second.acquireLease(), "one replica at a time")
            // replica-a stops renewing (dies): the lease expires and replica-b takes over.
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await second.acquireLease())
            #expect(try await !first.acquireLease())
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }
}
