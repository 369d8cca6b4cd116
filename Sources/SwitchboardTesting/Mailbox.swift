import Synchronization

/// A queue of values delivered by one side and awaited, one at a time, by the other; used by test
/// clients to collect what a server sends.
public final class Mailbox<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var finished = false
        var waiter: CheckedContinuation<Element?, Never>?
    }
    private let state = Mutex(State())

    public init() {}

    /// Delivers a value to the next ``receive()``.
    public func deliver(_ element: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(element)
            return nil
        }
        waiter?.resume(returning: element)
    }

    /// Ends delivery: once the buffered values are received, ``receive()`` returns `nil`.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next value, waiting for one; `nil` once finished and empty. One receiver at a time.
    public func receive() async -> Element? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> (Element?, Bool) in
                if !state.buffer.isEmpty { return (state.buffer.removeFirst(), true) }
                if state.finished { return (nil, true) }
                state.waiter = continuation
                return (nil, false)
            }
            if ready.1 { continuation.resume(returning: ready.0) }
        }
    }
}
