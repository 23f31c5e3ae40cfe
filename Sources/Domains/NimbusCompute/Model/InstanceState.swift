/// Where an instance is in its life. Stored as the raw value (compute.instances.state).
public enum InstanceState: String, Sendable, Hashable, CaseIterable {
    /// Accepted; the launch worker has not brought it up yet.
    case pending = "PENDING"
    case running = "RUNNING"
    case stopping = "STOPPING"
    case stopped = "STOPPED"
    case starting = "STARTING"
    case rebooting = "REBOOTING"
    case terminating = "TERMINATING"
    /// Final: the container is gone and the quota released.
    case terminated = "TERMINATED"
    /// Something failed; `reason` says what. Start (when a container exists) or terminate.
    case error = "ERROR"

    /// A worker still has to act on the instance.
    public var isTransitional: Bool {
        switch self {
        case .pending, .stopping, .starting, .rebooting, .terminating: true
        default: false
        }
    }
}

/// What a caller asks of an instance.
public enum InstanceCommand: String, Sendable, Hashable, CaseIterable {
    case stop, start, reboot, terminate
}

/// What a worker reports after acting on the engine.
public enum InstanceOutcome: Sendable, Hashable {
    /// The container was created and started.
    case launched
    /// The stop, start or reboot the instance was in finished.
    case transitionDone
    /// The container is removed.
    case removed
    /// The engine refused or failed; the instance goes to ERROR.
    case failed(reason: String)
}

/// What the reconciler saw in the engine for an instance's container.
public enum ContainerObservation: Sendable, Hashable {
    case running
    case exited(code: Int)
    case missing
}

/// A command that does not apply in the instance's state (FAILED_PRECONDITION).
public struct InvalidTransition: Error, Sendable, Hashable, CustomStringConvertible {
    public var state: InstanceState
    public var attempted: String
    public var description: String { "cannot \(attempted) an instance that is \(state.rawValue)" }
}
