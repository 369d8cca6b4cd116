import NIOCore
@testable import SwitchboardCore
import Switchboard
import SwitchboardTesting
import Synchronization
import Testing

/// The core's async primitives on their own: the send lock and a connection's input queue.
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
}
