import NIOCore

/// The bounded queue between a connection's reader and the drainer that feeds its terminal while a long
/// handler runs: a
/// ``BoundedQueue`` of messages measured in bytes, which gives back the memory charges of what it drops.
///
/// `push` waits while the queue holds `messageLimit` messages or `byteLimit` bytes, so a client that
/// sends faster than its terminal handles input is slowed down by TCP flow control instead of growing
/// server memory. `finish()` wakes everyone: later pushes return `false`, and `next()` returns `nil`.
///
/// Each message carries its charge to the API's ``InboundMemoryBudget``: the queue releases the charges of
/// the messages it drops, and whoever takes a message from it releases that message's charge once it is handled.
final class InputQueue: Sendable {
    /// A message and the bytes of the inbound budget it holds.
    struct Item: Sendable {
        let message: TerminalMessage
        let charge: Int
    }

    private let queue: BoundedQueue<Item>
    let budget: InboundMemoryBudget

    init(messageLimit: Int, byteLimit: Int, budget: InboundMemoryBudget) {
        queue = BoundedQueue(maxCount: messageLimit, maxSize: byteLimit) { Self.size(of: $0.message) }
        self.budget = budget
    }

    /// How many producers wait for room.
    var producerCount: Int { queue.waitingProducerCount }
    /// Whether a consumer waits for a message.
    var hasConsumer: Bool { queue.hasWaitingConsumer }

    static func size(of message: TerminalMessage) -> Int {
        switch message {
        case .text(let text): text.utf8.count
        case .binary(let buffer): buffer.readableBytes
        }
    }

    /// Adds a message, waiting for room; returns `false` if the queue was finished (the charge is then the caller's).
    func push(_ item: Item) async -> Bool { await queue.push(item) }

    /// The next message, waiting for one; `nil` once the queue is finished. The caller releases its charge.
    func next() async -> Item? { await queue.next() }

    /// Ends the queue, dropping what is buffered (and releasing its charges) and waking every waiter.
    func finish() {
        budget.release(queue.finish(droppingBuffered: true).reduce(0) { $0 + $1.charge })
    }
}
