@testable import SwitchboardCore
import Switchboard
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct InboundMemoryBudgetTests {
    /// Waits (yielding, not sleeping) until the budget has `count` waiters.
    static func waiters(_ budget: InboundMemoryBudget, _ count: Int) async throws {
        while budget.waiterCount < count {
            try Task.checkCancellation()
            await Task.yield()
        }
    }

    @Test func reservationsWithinTheLimitAreImmediateAndTheHighWaterIsKept() async {
        let budget = InboundMemoryBudget(limit: 100)
        #expect(await budget.reserve(60, timeout: .seconds(60)))
        #expect(budget.tryReserve(40))
        #expect(!budget.tryReserve(1))
        budget.release(100)
        #expect(budget.inUse == 0)
        #expect(budget.highWater == 100)
    }

    @Test func aWaiterGoesOnceEnoughIsReleased() async throws {
        let budget = InboundMemoryBudget(limit: 100)
        #expect(budget.tryReserve(80))
        let waiting = Task { await budget.reserve(50, timeout: .seconds(60)) }
        try await Self.waiters(budget, 1)
        budget.release(20)
        #expect(budget.waiterCount == 1, "60 + 50 is still over the limit")
        budget.release(30)
        #expect(await waiting.value)
        #expect(budget.inUse == 80)
    }

    @Test func waitersGoInOrderSoALargeOneIsNotStarvedBySmallOnes() async throws {
        let budget = InboundMemoryBudget(limit: 100)
        #expect(budget.tryReserve(90))
        let large = Task { await budget.reserve(60, timeout: .seconds(60)) }
        try await Self.waiters(budget, 1)
        #expect(!budget.tryReserve(5), "a small reservation does not overtake a waiting one")
        let small = Task { await budget.reserve(5, timeout: .seconds(60)) }
        try await Self.waiters(budget, 2)
        budget.release(90)
        #expect(await large.value)
        #expect(await small.value)
        #expect(budget.inUse == 65)
    }

    @Test func aWaiterThatTimesOutHoldsNothing() async throws {
        let budget = InboundMemoryBudget(limit: 100)
        #expect(budget.tryReserve(50))
        #expect(await !budget.reserve(80, timeout: .milliseconds(20)))
        #expect(budget.inUse == 50)
        #expect(budget.waiterCount == 0)
    }

    @Test func aWaiterThatGivesUpLetsTheOnesBehindItGo() async throws {
        let budget = InboundMemoryBudget(limit: 100)
        #expect(budget.tryReserve(50))
        let large = Task { await budget.reserve(80, timeout: .seconds(60)) }
        try await Self.waiters(budget, 1)
        let small = Task { await budget.reserve(30, timeout: .seconds(60)) }
        try await Self.waiters(budget, 2)
        large.cancel()
        #expect(await !large.value)
        #expect(await small.value)
        #expect(budget.inUse == 80)
    }

    @Test func aCancelledWaiterHoldsNothing() async throws {
        let budget = InboundMemoryBudget(limit: 10)
        #expect(budget.tryReserve(10))
        let waiting = Task { await budget.reserve(5, timeout: .seconds(60)) }
        try await Self.waiters(budget, 1)
        waiting.cancel()
        #expect(await !waiting.value)
        budget.release(10)
        #expect(budget.inUse == 0)
        #expect(budget.waiterCount == 0)
    }

    @Test func aReservationLargerThanTheBudgetGoesAloneRatherThanNever() async {
        let budget = InboundMemoryBudget(limit: 10)
        #expect(await budget.reserve(25, timeout: .seconds(60)))
        #expect(!budget.tryReserve(1))
        budget.release(25)
        #expect(budget.tryReserve(10))
    }

    @Test func anAccountGivesBackWhatItDidNotUseAndHandsTheRestOver() async throws {
        let budget = InboundMemoryBudget(limit: 100)
        let account = InboundAccount(budget: budget, timeout: .seconds(60)) {}
        try await account.reserve(40)
        account.giveBack(30)
        #expect(budget.inUse == 10)
        #expect(account.takeHeld() == 10)
        #expect(account.takeHeld() == 0)
        account.giveBack(5)
        #expect(budget.inUse == 10, "nothing held is left to give back; the taker releases the 10")
    }

    @Test func anAccountThatCannotGetMemoryClosesItsConnectionAndThrows() async {
        let budget = InboundMemoryBudget(limit: 10)
        #expect(budget.tryReserve(10))
        let closed = Atomic(false)
        let account = InboundAccount(budget: budget, timeout: .milliseconds(20)) { closed.store(true, ordering: .relaxed) }
        await #expect(throws: InboundMemoryExhausted.self) { try await account.reserve(5) }
        let wasClosed = closed.load(ordering: .relaxed)
        #expect(wasClosed, "the connection is closed before the error is thrown")
        #expect(budget.inUse == 10)
    }
}
