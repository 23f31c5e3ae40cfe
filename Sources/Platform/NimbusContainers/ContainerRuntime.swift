import Foundation

/// What nimbus-compute needs from a container engine, in plain Swift values. The production
/// implementation is `DockerEngineRuntime` (the Docker Engine API over a unix socket, served by
/// Docker and by Podman); every method throws `ContainerRuntimeError`.
public protocol ContainerRuntime: Sendable {
    // MARK: engine
    /// Answers when the engine is reachable; `.engineUnreachable` when it is not.
    func ping() async throws
    func version() async throws -> EngineVersion

    // MARK: containers
    /// Creates (does not start) a container; returns its id.
    func createContainer(_ spec: ContainerSpec) async throws -> String
    /// Starting a running container succeeds (idempotent).
    func startContainer(_ id: String) async throws
    /// SIGTERM, then SIGKILL after `timeout`; stopping a stopped container succeeds.
    func stopContainer(_ id: String, timeout: Duration) async throws
    func restartContainer(_ id: String, timeout: Duration) async throws
    /// `.conflict` when the container is not running.
    func killContainer(_ id: String, signal: String) async throws
    /// `force` also removes a running container (killing it first).
    func removeContainer(_ id: String, force: Bool) async throws
    func inspectContainer(_ id: String) async throws -> ContainerDetails
    /// Containers carrying every label of `labels`; `all` includes stopped ones.
    func listContainers(labels: [LabelFilter], all: Bool) async throws -> [ContainerSummary]
    /// The container's output, demultiplexed into stdout/stderr chunks. With `follow` the
    /// stream stays open until the container stops or the consumer stops iterating; errors
    /// (`.notFound`, `.engineUnreachable`) end the stream.
    func logs(_ id: String, options: LogOptions) -> AsyncThrowingStream<LogChunk, any Error>
    /// One sample of the container's counters (a running container; a stopped one has zeros).
    func stats(_ id: String) async throws -> ContainerStats

    // MARK: networks
    func createNetwork(_ spec: NetworkSpec) async throws -> String
    func removeNetwork(_ idOrName: String) async throws
    func listNetworks(labels: [LabelFilter]) async throws -> [NetworkSummary]
    func inspectNetwork(_ idOrName: String) async throws -> NetworkSummary

    // MARK: images
    /// Imports a root filesystem tarball (plain or gzip) as image `reference`
    /// (e.g. `localhost/nimbus/app:v1`); returns the image id.
    func importImage(reference: String, tarballPath: String) async throws -> String
    func listImages() async throws -> [ImageSummary]
    func inspectImage(_ reference: String) async throws -> ImageSummary
    /// `.conflict` while a container uses the image (unless `force`).
    func removeImage(_ reference: String, force: Bool) async throws
}

extension ContainerRuntime {
    public func stopContainer(_ id: String) async throws {
        try await stopContainer(id, timeout: .seconds(10))
    }
    public func listContainers(labels: [LabelFilter]) async throws -> [ContainerSummary] {
        try await listContainers(labels: labels, all: true)
    }
}
