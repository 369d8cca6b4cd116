import NIOCore
import Synchronization

/// The bounded queue between a connection's reader and the worker that feeds its terminal.
///
/// `push` waits while the queue holds `messageLimit` messages or `byteLimit` bytes, so a client that
/// sends faster than its terminal handles input is slowed down by TCP flow control instead of growing
/// server memory. `finish()` wakes everyone: later pushes return `false`, and `next()` returns `nil`.
final class InputQueue: Sendable {
    private struct State {
        var buffer = FIFO<TerminalMessage>()
        var bytes = 0
        var finished = false
        var consumer: CheckedContinuation<TerminalMessage?, Never>?
        var producers = FIFO<CheckedContinuation<Void, Never>>()
    }

    private let state = Mutex(State())
    let messageLimit: Int
    let byteLimit: Int

    init(messageLimit: Int, byteLimit: Int) {
        self.messageLimit = max(1, messageLimit)
        self.byteLimit = max(1, byteLimit)
    }

    static func size(of message: TerminalMessage) -> Int {
        switch message {
        case .text(let text): text.utf8.count
        case .binary(let buffer): buffer.readableBytes
        }
    }

    /// Adds a message, waiting for room; returns `false` if the queue was finished.
    func push(_ message: TerminalMessage) async -> Bool {
        while true {
            enum Step { case delivered(CheckedContinuation<TerminalMessage?, Never>?), finished, wait }
            let size = Self.size(of: message)
            let step = state.withLock { state -> Step in
                if state.finished { return .finished }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .delivered(consumer)
                }
                // A message larger than the byte limit is still accepted into an empty queue.
                if state.buffer.count < messageLimit && (state.bytes + size <= byteLimit || state.buffer.isEmpty) {
                    state.buffer.push(message)
                    state.bytes += size
                    return .delivered(nil)
                }
                return .wait
            }
            switch step {
            case .finished: return false
            case .delivered(let consumer):
                consumer?.resume(returning: message)
                return true
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        let full = state.buffer.count >= messageLimit || (state.bytes + size > byteLimit && !state.buffer.isEmpty)
                        if state.finished || !full || state.consumer != nil { return true }
                        state.producers.push(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// The next message, waiting for one; `nil` once the queue is finished.
    func next() async -> TerminalMessage? {
        enum Step { case message(TerminalMessage, CheckedContinuation<Void, Never>?), finished, wait }
        let step = state.withLock { state -> Step in
            if let message = state.buffer.pop() {
                state.bytes -= Self.size(of: message)
                return .message(message, state.producers.pop())
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
                let immediate = state.withLock { state -> (TerminalMessage?, Bool, CheckedContinuation<Void, Never>?) in
                    if let message = state.buffer.pop() {
                        state.bytes -= Self.size(of: message)
                        return (message, true, state.producers.pop())
                    }
                    if state.finished { return (nil, true, nil) }
                    state.consumer = continuation
                    let producer = state.producers.pop()
                    return (nil, false, producer)
                }
                immediate.2?.resume()
                if immediate.1 { continuation.resume(returning: immediate.0) }
            }
        }
    }

    /// Ends the queue, dropping what is buffered and waking every waiter.
    func finish() {
        let (consumer, producers) = state.withLock { state in
            state.finished = true
            _ = state.buffer.removeAll()
            state.bytes = 0
            let consumer = state.consumer
            state.consumer = nil
            return (consumer, state.producers.removeAll())
        }
        consumer?.resume(returning: nil)
        for producer in producers { producer.resume() }
    }
}
