import Testing
@testable import NimbusCompute

@Suite struct InstanceStateMachineTests {
    @Test func launchRunsThroughStopStartRebootAndTerminate() throws {
        var machine = InstanceStateMachine.launching
        #expect(machine.state == .pending)
        #expect(try machine.complete(.launched) == .none)
        #expect(machine.state == .running)
        #expect(try machine.request(.stop) == .stopContainer)
        #expect(machine.state == .stopping)
        #expect(try machine.complete(.transitionDone) == .none)
        #expect(machine.state == .stopped)
        #expect(try machine.request(.start) == .startContainer)
        #expect(try machine.complete(.transitionDone) == .none)
        #expect(machine.state == .running)
        #expect(try machine.request(.reboot) == .restartContainer)
        #expect(machine.state == .rebooting)
        #expect(try machine.complete(.transitionDone) == .none)
        #expect(try machine.request(.terminate) == .removeContainer)
        #expect(machine.state == .terminating)
        #expect(try machine.complete(.removed) == .none)
        #expect(machine.state == .terminated)
    }

    @Test(arguments: [
        (InstanceState.pending, InstanceCommand.stop), (.pending, .start), (.pending, .reboot),
        (.stopped, .reboot), (.stopping, .start), (.stopping, .reboot), (.starting, .stop),
        (.terminating, .start), (.terminating, .stop), (.terminated, .start), (.terminated, .stop),
        (.terminated, .reboot), (.terminated, .terminate), (.error, .stop), (.error, .reboot),
    ])
    func refusesCommandsThatDoNotApply(state: InstanceState, command: InstanceCommand) {
        var machine = InstanceStateMachine(state: state)
        #expect(throws: InvalidTransition.self) { try machine.request(command) }
        #expect(machine.state == state, "a refused command changes nothing")
    }

    @Test(arguments: [
        (InstanceState.running, InstanceCommand.start), (.stopped, .stop), (.stopping, .stop),
        (.starting, .start), (.rebooting, .reboot), (.terminating, .terminate),
    ])
    func repeatingACommandInProgressIsANoOp(state: InstanceState, command: InstanceCommand) throws {
        var machine = InstanceStateMachine(state: state)
        #expect(try machine.request(command) == .none)
        #expect(machine.state == state)
    }

    @Test(arguments: InstanceState.allCases.filter { $0 != .terminated })
    func everythingButTerminatedCanBeTerminated(state: InstanceState) throws {
        var machine = InstanceStateMachine(state: state)
        let action = try machine.request(.terminate)
        #expect(machine.state == .terminating)
        #expect(action == (state == .terminating ? .none : .removeContainer))
    }

    @Test func aFailedLaunchGoesToErrorAndCleansUp() throws {
        var machine = InstanceStateMachine.launching
        #expect(try machine.complete(.failed(reason: "the container engine is unavailable")) == .cleanUpFailedLaunch)
        #expect(machine.state == .error)
        #expect(machine.reason == "the container engine is unavailable")
    }

    @Test func anErrorInstanceStartsOnlyWithAContainer() throws {
        var withContainer = InstanceStateMachine(state: .error, reason: "exited with code 137")
        #expect(try withContainer.request(.start, hasContainer: true) == .startContainer)
        #expect(withContainer.reason == "")
        var without = InstanceStateMachine(state: .error)
        #expect(throws: InvalidTransition.self) { try without.request(.start, hasContainer: false) }
    }

    @Test func aFailedRemovalStaysTerminating() throws {
        var machine = InstanceStateMachine(state: .terminating)
        #expect(try machine.complete(.failed(reason: "engine unavailable")) == .removeContainer)
        #expect(machine.state == .terminating)
    }

    @Test func workerOutcomesMustMatchTheState() {
        var machine = InstanceStateMachine(state: .running)
        #expect(throws: InvalidTransition.self) { try machine.complete(.launched) }
        #expect(throws: InvalidTransition.self) { try machine.complete(.removed) }
        #expect(machine.state == .running)
    }

    @Test func theReconcilerReflectsWhatHappenedBehindNimbussBack() {
        var killed = InstanceStateMachine(state: .running)
        _ = killed.observe(.exited(code: 137))
        #expect(killed.state == .error)
        #expect(killed.exitCode == 137)
        #expect(killed.reason.contains("137"))

        var finished = InstanceStateMachine(state: .running)
        _ = finished.observe(.exited(code: 0))
        #expect(finished.state == .stopped)

        var removed = InstanceStateMachine(state: .stopped)
        _ = removed.observe(.missing)
        #expect(removed.state == .error)

        var crashedThenRemoved = InstanceStateMachine(state: .error, reason: "the container exited with code 137", exitCode: 137)
        _ = crashedThenRemoved.observe(.missing)
        #expect(crashedThenRemoved.reason.contains("removed"))

        var startedOutside = InstanceStateMachine(state: .stopped)
        _ = startedOutside.observe(.running)
        #expect(startedOutside.state == .running)

        for state in InstanceState.allCases where state.isTransitional {
            var busy = InstanceStateMachine(state: state)
            _ = busy.observe(.missing)
            #expect(busy.state == state, "a worker owns \(state)")
        }
    }
}
