import NIOCore
import Synchronization

/// The bounded queue between a connection's reader and the worker that feeds its terminal.
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

    private struct State {
        var buffer = CircularBuffer<Item>()
        var bytes = 0
        var finished = false
        var consumer: CheckedContinuation<Item?, Never>?
        var producers = CircularBuffer<CheckedContinuation<Void, Never>>()
    }

    private let state = Mutex(State())
    let messageLimit: Int
    let byteLimit: Int
    let budget: InboundMemoryBudget

    init(messageLimit: Int, byteLimit: Int, budget: InboundMemoryBudget) {
        self.messageLimit = max(1, messageLimit)
        self.byteLimit = max(1, byteLimit)
        self.budget = budget
    }

    /// How many producers wait for room.
    var producerCount: Int { state.withLock { $0.producers.count } }
    /// Whether a consumer waits for a message.
    var hasConsumer: Bool { state.withLock { $0.consumer != nil } }

    static func size(of message: TerminalMessage) -> Int {
        switch message {
        case .text(let text): text.utf8.count
        case .binary(let buffer): buffer.readableBytes
        }
    }

    /// Adds a message, waiting for room; returns `false` if the queue was finished (the charge is then the caller's).
    func push(_ item: Item) async -> Bool {
        while true {
            enum Step { case delivered(CheckedContinuation<Item?, Never>?), finished, wait }
            let size = Self.size(of: item.message)
            let step = state.withLock { state -> Step in
                if state.finished { return .finished }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .delivered(consumer)
                }
                // A message larger than the byte limit is still accepted into an empty queue.
                if state.buffer.count < messageLimit && (state.bytes + size <= byteLimit || state.buffer.isEmpty) {
                    state.buffer.append(item)
                    state.bytes += size
                    return .delivered(nil)
                }
                return .wait
            }
            switch step {
            case .finished: return false
            case .delivered(let consumer):
                consumer?.resume(returning: item)
                return true
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        let full = state.buffer.count >= messageLimit || (state.bytes + size > byteLimit && !state.buffer.isEmpty)
                        if state.finished || !full || state.consumer != nil { return true }
                        state.producers.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// The next message, waiting for one; `nil` once the queue is finished. The caller releases its charge.
    func next() async -> Item? {
        enum Step { case message(Item, CheckedContinuation<Void, Never>?), finished, wait }
        let step = state.withLock { state -> Step in
            if let item = state.buffer.popFirst() {
                state.bytes -= Self.size(of: item.message)
                return .message(item, state.producers.popFirst())
            }
            return state.finished ? .finished : .wait
        }
        switch step {
        case .message(let message, let producer):
            producer?.resume()
            return message
        case .finished:
            return nil
        case .wait:
            return await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> (Item?, Bool, CheckedContinuation<Void, Never>?) in
                    if let item = state.buffer.popFirst() {
                        state.bytes -= Self.size(of: item.message)
                        return (item, true, state.producers.popFirst())
                    }
                    if state.finished { return (nil, true, nil) }
                    state.consumer = continuation
                    let producer = state.producers.popFirst()
                    return (nil, false, producer)
                }
                immediate.2?.resume()
                if immediate.1 { continuation.resume(returning: immediate.0) }
            }
        }
    }

    /// Ends the queue, dropping what is buffered and waking every waiter.
    func finish() {
        let (consumer, producers, dropped) = state.withLock { state in
            state.finished = true
            let dropped = state.buffer.reduce(0) { $0 + $1.charge }
            state.buffer.removeAll()
            state.bytes = 0
            let consumer = state.consumer
            state.consumer = nil
            let producers = Array(state.producers)
            state.producers.removeAll()
            return (consumer, producers, dropped)
        }
        budget.release(dropped)
        consumer?.resume(returning: nil)
        for producer in producers { producer.resume() }
    }
}
