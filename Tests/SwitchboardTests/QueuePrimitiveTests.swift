import NIOCore
@testable import SwitchboardCore
import Switchboard
import SwitchboardTesting
import Synchronization
import Testing

/// The core's async primitives on their own: the lock, the bounded queue, and the connection's input queue
/// built on it.
@Suite(.timeLimit(.minutes(1)))
struct QueuePrimitiveTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    static func text(_ text: String, charge: Int = 0) -> InputQueue.Item { InputQueue.Item(message: .text(text), charge: charge) }

    static func texts(_ items: [InputQueue.Item?]) -> [String] {
        items.map { item in
            if case .text(let text)? = item?.message { text } else { "nil" }
        }
    }

    // MARK: AsyncLock

    @Test func theLockLetsOneHolderInAtATimeInArrivalOrder() async throws {
        let lock = AsyncLock()
        let log = Log()
        let inside = Mailbox<Void>()
        let release = Mailbox<Void>()
        let first = Task {
            await lock.withLock {
                log.add("first in")
                inside.deliver(())
                _ = await release.receive()
                log.add("first out")
            }
        }
        _ = await inside.receive()
        // Queued while the first holds the lock, in this order.
        var waiting: [Task<Void, Never>] = []
        for name in ["second", "third"] {
            waiting.append(Task { await lock.withLock { log.add(name) } })
            while lock.waiterCount < waiting.count { await Task.yield() }
        }
        #expect(log.all == ["first in"])
        release.deliver(())
        await first.value
        for task in waiting { await task.value }
        #expect(log.all == ["first in", "first out", "second", "third"])
    }

    // MARK: InputQueue

    @Test func theQueueIsFirstInFirstOut() async {
        let queue = InputQueue(messageLimit: 8, byteLimit: 1024, budget: InboundMemoryBudget(limit: 1 << 20))
        for text in ["a", "b", "c"] { #expect(await queue.push(Self.text(text))) }
        #expect(Self.texts([await queue.next(), await queue.next(), await queue.next()]) == ["a", "b", "c"])
    }

    @Test func aFullQueueHoldsTheProducerUntilTheConsumerTakesOne() async throws {
        let queue = InputQueue(messageLimit: 2, byteLimit: 1024, budget: InboundMemoryBudget(limit: 1 << 20))
        #expect(await queue.push(Self.text("1")))
        #expect(await queue.push(Self.text("2")))
        let pushed = Mailbox<Bool>()
        let producer = Task { pushed.deliver(await queue.push(Self.text("3"))) }
        while queue.producerCount < 1 { await Task.yield() }
        #expect(Self.texts([await queue.next()]) == ["1"])
        #expect(await pushed.receive() == true)
        #expect(Self.texts([await queue.next(), await queue.next()]) == ["2", "3"])
        await producer.value
    }

    @Test func theByteLimitHoldsTooButOneLargeMessageGoesIntoAnEmptyQueue() async throws {
        let queue = InputQueue(messageLimit: 100, byteLimit: 10, budget: InboundMemoryBudget(limit: 1 << 20))
        #expect(await queue.push(Self.text(String(repeating: "x", count: 50))), "larger than the limit, into an empty queue")
        let pushed = Mailbox<Bool>()
        let producer = Task { pushed.deliver(await queue.push(Self.text("y"))) }
        while queue.producerCount < 1 { await Task.yield() }
        _ = await queue.next()
        #expect(await pushed.receive() == true)
        await producer.value
    }

    @Test func finishWakesTheConsumerAndTheProducersAndReleasesWhatItDrops() async throws {
        let budget = InboundMemoryBudget(limit: 1 << 20)
        #expect(budget.tryReserve(300))
        let queue = InputQueue(messageLimit: 1, byteLimit: 1024, budget: budget)
        #expect(await queue.push(Self.text("held", charge: 100)))
        let producer = Task { await queue.push(Self.text("waiting", charge: 200)) }
        while queue.producerCount < 1 { await Task.yield() }
        queue.finish()
        #expect(await producer.value == false, "a producer woken by finish gets false and keeps its charge")
        #expect(budget.inUse == 200, "the dropped message's 100 bytes were released")
        budget.release(200)
        #expect(await queue.next() == nil)
        let empty = InputQueue(messageLimit: 1, byteLimit: 1024, budget: budget)
        let consumer = Task { await empty.next() }
        while !empty.hasConsumer { await Task.yield() }
        empty.finish()
        #expect(await consumer.value == nil)
        #expect(await empty.push(Self.text("late")) == false)
    }

    // MARK: BoundedQueue

    /// Waits until `count` producers wait for room.
    static func waitForProducers<T>(_ queue: BoundedQueue<T>, _ count: Int) async {
        while queue.waitingProducerCount < count { await Task.yield() }
    }

    @Test func waitingProducersGetInInArrivalOrderAndNoneOvertakes() async throws {
        let queue = BoundedQueue<String>(maxCount: 1)
        #expect(await queue.push("0"))
        var producers: [Task<Bool, Never>] = []
        for name in ["1", "2", "3"] {
            producers.append(Task { await queue.push(name) })
            await Self.waitForProducers(queue, producers.count)
        }
        var taken: [String] = []
        for _ in 0..<4 { taken.append(await queue.next() ?? "nil") }
        #expect(taken == ["0", "1", "2", "3"])
        for producer in producers { #expect(await producer.value) }
        // A producer that finds room while others wait still queues behind them.
        let small = BoundedQueue<Int>(maxSize: 10) { $0 }
        #expect(await small.push(8))
        let large = Task { await small.push(5) }
        await Self.waitForProducers(small, 1)
        let tiny = Task { await small.push(1) }
        await Self.waitForProducers(small, 2)
        #expect(await small.next() == 8)
        #expect(await small.next() == 5)
        #expect(await small.next() == 1)
        #expect(await large.value)
        #expect(await tiny.value)
    }

    @Test func theSizeBoundsTooAndOneLargeElementPassesAlone() async {
        let queue = BoundedQueue<Int>(maxCount: 100, maxSize: 10) { $0 }
        #expect(await queue.push(50), "larger than the bound, into an empty queue")
        #expect(queue.size == 50)
        let next = Task { await queue.push(1) }
        await Self.waitForProducers(queue, 1)
        #expect(await queue.next() == 50)
        #expect(await next.value)
        #expect(queue.size == 1)
    }

    @Test func finishWakesEveryoneAndKeepsOrDropsWhatIsBuffered() async {
        let queue = BoundedQueue<String>(maxCount: 1)
        #expect(await queue.push("kept"))
        let producer = Task { await queue.push("refused") }
        await Self.waitForProducers(queue, 1)
        #expect(queue.finish(droppingBuffered: false).isEmpty)
        #expect(await producer.value == false)
        #expect(await queue.next() == "kept", "the consumer still gets what was buffered")
        #expect(await queue.next() == nil)
        #expect(await queue.push("late") == false)
        #expect(queue.append("late") == false)

        let dropping = BoundedQueue<String>()
        dropping.append("a")
        dropping.append("b")
        #expect(dropping.finish(droppingBuffered: true) == ["a", "b"])
        #expect(await dropping.next() == nil)

        let empty = BoundedQueue<String>()
        let consumer = Task { await empty.next() }
        while !empty.hasWaitingConsumer { await Task.yield() }
        empty.finish(droppingBuffered: false)
        #expect(await consumer.value == nil)
    }

    @Test func cancellingAWaitLosesNothingAndDuplicatesNothing() async {
        let queue = BoundedQueue<String>(maxCount: 1)
        #expect(await queue.push("first"))
        let cancelled = Task { await queue.push("cancelled") }
        await Self.waitForProducers(queue, 1)
        let after = Task { await queue.push("after") }
        await Self.waitForProducers(queue, 2)
        cancelled.cancel()
        #expect(await cancelled.value == false, "a cancelled push gives its element back")
        #expect(queue.waitingProducerCount == 1)
        #expect(await queue.next() == "first")
        #expect(await after.value)
        #expect(await queue.next() == "after")

        // A cancelled consumer returns nil, and the next element waits for the next consumer.
        let consumer = Task { await queue.next() }
        while !queue.hasWaitingConsumer { await Task.yield() }
        consumer.cancel()
        #expect(await consumer.value == nil)
        #expect(!queue.hasWaitingConsumer)
        queue.append("kept")
        #expect(await queue.next() == "kept")

        // Cancelled before it starts to wait: refused at once, and nothing is left behind.
        let full = BoundedQueue<String>(maxCount: 1)
        full.append("x")
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await full.push("early")
        }
        #expect(await early.value == false)
        #expect(full.waitingProducerCount == 0)
        #expect(full.count == 1)
    }

    @Test func aHandOffGoesStraightToTheWaitingConsumer() async {
        let queue = BoundedQueue<Int>(maxCount: 1)
        let consumer = Task { await queue.next() }
        while !queue.hasWaitingConsumer { await Task.yield() }
        #expect(await queue.push(7))
        #expect(await consumer.value == 7)
        #expect(queue.count == 0)
    }

    @Test func aDeadlineEndsTheWaitAndNeverLosesAnElement() async {
        let queue = BoundedQueue<Int>()
        #expect(await queue.next(until: .now + .milliseconds(20)) == nil, "nothing came before the deadline")
        #expect(!queue.hasWaitingConsumer, "the wait was withdrawn")
        queue.append(1)
        #expect(await queue.next(until: .now - .seconds(1)) == 1, "an element already there wins over a past deadline")
        let waiting = Task { await queue.next(until: .now + .seconds(60)) }
        while !queue.hasWaitingConsumer { await Task.yield() }
        queue.append(2)
        #expect(await waiting.value == 2)
        queue.finish(droppingBuffered: false)
        #expect(await queue.next(until: .now + .seconds(60)) == nil, "a finished queue does not wait for the deadline")
    }
}

/// The one timer every query deadline shares.
@Suite(.timeLimit(.minutes(1)))
struct DeadlineTimerTests {
    @Test func actionsRunAtTheirDeadlinesInOrderAndCancelledOnesNever() async throws {
        let timer = DeadlineTimer()
        let fired = Mutex<[String]>([])
        let (done, finish) = AsyncStream.makeStream(of: Void.self)
        let start = ContinuousClock.now
        _ = timer.schedule(at: start + .milliseconds(300)) {
            fired.withLock { $0.append("late") }
            finish.finish()
        }
        let cancelled = timer.schedule(at: start + .milliseconds(100)) { fired.withLock { $0.append("cancelled") } }
        // Earlier than the sleeper's deadline: a new sleeper takes over.
        _ = timer.schedule(at: start + .milliseconds(50)) { fired.withLock { $0.append("early") } }
        timer.cancel(cancelled)
        for await _ in done {}
        #expect(fired.withLock { $0 } == ["early", "late"])
        #expect(ContinuousClock.now - start >= .milliseconds(300))
    }
}
