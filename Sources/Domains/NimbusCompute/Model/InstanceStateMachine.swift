/// The instance life cycle as a value: callers' commands, workers' outcomes and the
/// reconciler's observations move it between states and say what the engine must do next.
/// No I/O here; the service persists the result with optimistic locking and performs the
/// action.
///
///     PENDING ──launched──▶ RUNNING ──stop──▶ STOPPING ──done──▶ STOPPED ──start──▶ STARTING ──done──▶ RUNNING
///     RUNNING ──reboot──▶ REBOOTING ──done──▶ RUNNING
///     any but TERMINATED ──terminate──▶ TERMINATING ──removed──▶ TERMINATED
///     PENDING/STOPPING/STARTING/REBOOTING ──failed──▶ ERROR(reason) ──start──▶ STARTING
public struct InstanceStateMachine: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Nothing to do (already there).
        case none
        /// Create the container and start it.
        case launch
        case stopContainer
        case startContainer
        case restartContainer
        /// Remove the container (if any) and release the quota.
        case removeContainer
        /// The launch failed: remove what was created and release the quota.
        case cleanUpFailedLaunch
    }

    public private(set) var state: InstanceState
    /// Why the instance is in ERROR (or stopped by itself); empty otherwise.
    public private(set) var reason: String
    public private(set) var exitCode: Int?

    public init(state: InstanceState, reason: String = "", exitCode: Int? = nil) {
        self.state = state
        self.reason = reason
        self.exitCode = exitCode
    }

    /// A new instance, waiting for the launch worker.
    public static var launching: InstanceStateMachine { InstanceStateMachine(state: .pending) }

    /// A caller's command. `hasContainer` says whether an engine container exists (an ERROR
    /// instance without one cannot be started, only terminated).
    public mutating func request(_ command: InstanceCommand, hasContainer: Bool = true) throws(InvalidTransition) -> Action {
        switch (command, state) {
        case (.stop, .running):
            move(to: .stopping)
            return .stopContainer
        case (.stop, .stopping), (.stop, .stopped):
            return .none
        case (.start, .stopped):
            move(to: .starting)
            return .startContainer
        case (.start, .error) where hasContainer:
            move(to: .starting)
            return .startContainer
        case (.start, .starting), (.start, .running):
            return .none
        case (.reboot, .running):
            move(to: .rebooting)
            return .restartContainer
        case (.reboot, .rebooting):
            return .none
        case (.terminate, .terminating):
            return .none
        case (.terminate, let current) where current != .terminated:
            move(to: .terminating)
            return .removeContainer
        default:
            throw InvalidTransition(state: state, attempted: command.rawValue)
        }
    }

    /// A worker's report on the transition the instance is in.
    public mutating func complete(_ outcome: InstanceOutcome) throws(InvalidTransition) -> Action {
        switch (outcome, state) {
        case (.launched, .pending):
            move(to: .running)
            return .none
        case (.transitionDone, .stopping):
            move(to: .stopped)
            return .none
        case (.transitionDone, .starting), (.transitionDone, .rebooting):
            move(to: .running)
            return .none
        case (.removed, .terminating):
            move(to: .terminated)
            return .none
        case (.failed(let reason), .pending):
            move(to: .error, reason: reason)
            return .cleanUpFailedLaunch
        case (.failed(let reason), .stopping), (.failed(let reason), .starting), (.failed(let reason), .rebooting):
            move(to: .error, reason: reason)
            return .none
        case (.failed(let reason), .terminating):
            // Stays TERMINATING: removal is retried until the container is gone.
            self.reason = reason
            return .removeContainer
        default:
            throw InvalidTransition(state: state, attempted: "complete \(outcome)")
        }
    }

    /// What the engine shows for a settled instance. Transitional states belong to their
    /// worker and are left alone.
    public mutating func observe(_ observation: ContainerObservation) -> Action {
        switch (observation, state) {
        case (.exited(let code), .running):
            if code == 0 {
                move(to: .stopped, reason: "the container exited", exitCode: 0)
            } else {
                move(to: .error, reason: "the container exited with code \(code)", exitCode: code)
            }
        case (.running, .stopped), (.running, .error):
            move(to: .running, reason: "the container was started outside Nimbus")
        case (.missing, .running), (.missing, .stopped), (.missing, .error):
            move(to: .error, reason: "the container was removed outside Nimbus")
        default:
            break
        }
        return .none
    }

    private mutating func move(to next: InstanceState, reason: String = "", exitCode: Int? = nil) {
        state = next
        self.reason = reason
        self.exitCode = exitCode
    }
}
