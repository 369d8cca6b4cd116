@testable import SwitchboardCore
import Testing

/// The connection's turn-taking rules, with no connection, no clock and no I/O.
@Suite struct InputSchedulerTests {
    let start = ContinuousClock.now
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func aCommandWaitsForTheMessagesSentBeforeIt() {
        var scheduler = InputScheduler(busyThreshold: .milliseconds(250))
        #expect(scheduler.turn(for: scheduler.ticket, now: at(0)) == .run, "nothing before it")
        scheduler.messageQueued()
        scheduler.messageQueued()
        let ticket = scheduler.ticket
        scheduler.messageQueued()  // sent after the command: not waited for
        #expect(scheduler.turn(for: ticket, now: at(0)) == .wait(until: nil), "queued, not started: wait for progress")
        scheduler.handlerStarted(at: at(10))
        scheduler.handlerFinished()
        scheduler.handlerStarted(at: at(20))
        #expect(scheduler.turn(for: ticket, now: at(30)) == .wait(until: at(270)))
        scheduler.handlerFinished()
        #expect(scheduler.turn(for: ticket, now: at(40)) == .run)
    }

    @Test func aHandlerBusyPastTheThresholdIsOvertaken() {
        var scheduler = InputScheduler(busyThreshold: .milliseconds(250))
        scheduler.messageQueued()
        scheduler.handlerStarted(at: at(0))
        let ticket = scheduler.ticket
        #expect(scheduler.turn(for: ticket, now: at(249)) == .wait(until: at(250)))
        #expect(scheduler.turn(for: ticket, now: at(250)) == .run)
    }

    @Test func stoppingTheWorkerReleasesEveryWaitingCommandOnce() {
        var scheduler = InputScheduler(busyThreshold: .milliseconds(250))
        scheduler.messageQueued()
        scheduler.messageQueued()
        scheduler.handlerStarted(at: at(0))
        scheduler.messageQueued()  // a push that waits for room while the worker stops
        let ticket = scheduler.ticket
        scheduler.inputDropped()
        #expect(scheduler.turn(for: ticket, now: at(1)) == .run)
        #expect(scheduler.busySince == nil)
        // The waiting push then fails and is queued again for the next worker: it counts once.
        scheduler.messageDropped()
        scheduler.messageQueued()
        let next = scheduler.ticket
        #expect(scheduler.turn(for: next, now: at(2)) == .wait(until: nil), "the re-queued message is still ahead")
        scheduler.handlerStarted(at: at(3))
        scheduler.handlerFinished()
        #expect(scheduler.turn(for: next, now: at(4)) == .run)
    }
}
