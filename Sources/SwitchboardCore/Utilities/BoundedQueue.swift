import DequeModule
import Synchronization

/// A first-in, first-out queue between async producers and one async consumer, bounded by a count and by a
/// size that a function measures (bytes, for messages).
///
/// - Back-pressure: ``push(_:)`` waits while the queue is full. An element larger than `maxSize` on its own
///   is still taken into an empty queue, so nothing is too large to ever pass.
/// - Fairness: waiting producers get in in the order they came, and a new producer never overtakes one
///   that waits.
/// - Finishing: ``finish(droppingBuffered:)`` wakes everyone. Later pushes return `false`; the consumer
///   gets what is buffered (unless it was dropped), then `nil`.
/// - Cancellation: a cancelled ``push(_:)`` returns `false` and a cancelled ``next()`` returns `nil`; neither
///   loses or duplicates an element.
///
/// The connection's input queue, the PTY's per-client outboxes and the test clients' mailboxes are all one.
package final class BoundedQueue<Element: Sendable>: Sendable {
    private struct Producer {
        let id: Int
        let element: Element
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct Consumer {
        let id: Int
        let continuation: CheckedContinuation<Element?, Never>
    }

    private struct State {
        // Nothing allocated until something is queued: every connection has queues, mostly empty.
        var buffer = Deque<Element>()
        var size = 0
        var finished = false
        var consumer: Consumer?
        var producers = Deque<Producer>()
        var nextWaiterID = 0
    }

    private enum PushStep {
        case handed(CheckedContinuation<Element?, Never>), queued, refused, wait(Int)
    }

    private enum NextStep {
        case element(Element, [CheckedContinuation<Bool, Never>]), end, wait(Int)
    }

    private let state = Mutex(State())
    /// The most elements the queue holds.
    package let maxCount: Int
    /// The most total size the queue holds (see the type's notes on larger elements).
    package let maxSize: Int
    private let sizeOf: @Sendable (Element) -> Int

    /// - Parameters:
    ///   - maxCount: The most elements buffered (at least 1); `Int.max` for no bound.
    ///   - maxSize: The most total size buffered (at least 1); `Int.max` for no bound.
    ///   - size: The size of one element (default 1).
    package init(maxCount: Int = .max, maxSize: Int = .max, size: @escaping @Sendable (Element) -> Int = { _ in 1 }) {
        self.maxCount = max(1, maxCount)
        self.maxSize = max(1, maxSize)
        self.sizeOf = size
    }

    /// Whether ``finish(droppingBuffered:)`` has been called.
    package var isFinished: Bool { state.withLock { $0.finished } }
    /// How many elements are buffered.
    package var count: Int { state.withLock { $0.buffer.count } }
    /// The total size of the buffered elements.
    package var size: Int { state.withLock { $0.size } }
    /// How many producers wait for room.
    package var waitingProducerCount: Int { state.withLock { $0.producers.count } }
    /// Whether the consumer waits for an element.
    package var hasWaitingConsumer: Bool { state.withLock { $0.consumer != nil } }

    private func hasRoom(for elementSize: Int, in state: State) -> Bool {
        state.buffer.isEmpty || (state.buffer.count < maxCount && elementSize <= maxSize - state.size)
    }

    /// Adds an element, waiting for room.
    /// - Returns: `true` once the element is queued (or handed to the waiting consumer); `false` when the
    ///   queue is finished or the task was cancelled while waiting: the element is then still the caller's.
    package func push(_ element: Element) async -> Bool {
        let elementSize = sizeOf(element)
        let step = state.withLock { state -> PushStep in
            if state.finished { return .refused }
            if let consumer = state.consumer {
                state.consumer = nil
                return .handed(consumer.continuation)
            }
            if state.producers.isEmpty && hasRoom(for: elementSize, in: state) {
                state.buffer.append(element)
                state.size += elementSize
                return .queued
            }
            state.nextWaiterID += 1
            return .wait(state.nextWaiterID)
        }
        switch step {
        case .refused: return false
        case .queued: return true
        case .handed(let consumer):
            consumer.resume(returning: element)
            return true
        case .wait(let id):
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let outcome = state.withLock { state -> Bool? in
                        if state.finished || Task.isCancelled { return false }
                        if state.producers.isEmpty && hasRoom(for: elementSize, in: state) {
                            state.buffer.append(element)
                            state.size += elementSize
                            return true
                        }
                        state.producers.append(Producer(id: id, element: element, continuation: continuation))
                        return nil
                    }
                    if let outcome { continuation.resume(returning: outcome) }
                }
            } onCancel: {
                let cancelled = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    guard let index = state.producers.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.producers.remove(at: index).continuation
                }
                cancelled?.resume(returning: false)
            }
        }
    }

    /// Adds an element at once, whatever the bounds (for queues whose bound is kept elsewhere).
    /// - Returns: `false` when the queue is finished.
    @discardableResult
    package func append(_ element: Element) -> Bool {
        let elementSize = sizeOf(element)
        let consumer = state.withLock { state -> CheckedContinuation<Element?, Never>?? in
            if state.finished { return .none }
            if let consumer = state.consumer {
                state.consumer = nil
                return consumer.continuation
            }
            state.buffer.append(element)
            state.size += elementSize
            return .some(nil)
        }
        guard let consumer else { return false }
        consumer?.resume(returning: element)
        return true
    }

    /// Takes the first element out and lets waiting producers in, in order, while there is room.
    private func take(from state: inout State) -> (Element, [CheckedContinuation<Bool, Never>]) {
        let element = state.buffer.removeFirst()
        state.size -= sizeOf(element)
        var admitted: [CheckedContinuation<Bool, Never>] = []
        while let producer = state.producers.first, hasRoom(for: sizeOf(producer.element), in: state) {
            state.producers.removeFirst()
            state.buffer.append(producer.element)
            state.size += sizeOf(producer.element)
            admitted.append(producer.continuation)
        }
        return (element, admitted)
    }

    /// The next element, waiting for one. One consumer at a time.
    /// - Returns: `nil` once the queue is finished and empty, or when the task is cancelled while waiting.
    package func next() async -> Element? {
        let step = state.withLock { state -> NextStep in
            if !state.buffer.isEmpty {
                let (element, admitted) = take(from: &state)
                return .element(element, admitted)
            }
            if state.finished { return .end }
            state.nextWaiterID += 1
            return .wait(state.nextWaiterID)
        }
        switch step {
        case .end: return nil
        case .element(let element, let admitted):
            for producer in admitted { producer.resume(returning: true) }
            return element
        case .wait(let id):
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                    let now = state.withLock { state -> NextStep in
                        if !state.buffer.isEmpty {
                            let (element, admitted) = take(from: &state)
                            return .element(element, admitted)
                        }
                        if state.finished || Task.isCancelled { return .end }
                        // Producers never wait behind an empty buffer (the first always has room), so nothing
                        // can be handed over here.
                        precondition(state.consumer == nil, "BoundedQueue has one consumer at a time")
                        state.consumer = Consumer(id: id, continuation: continuation)
                        return .wait(id)
                    }
                    switch now {
                    case .wait: break
                    case .end: continuation.resume(returning: nil)
                    case .element(let element, let admitted):
                        for producer in admitted { producer.resume(returning: true) }
                        continuation.resume(returning: element)
                    }
                }
            } onCancel: {
                let cancelled = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                    guard let consumer = state.consumer, consumer.id == id else { return nil }
                    state.consumer = nil
                    return consumer.continuation
                }
                cancelled?.resume(returning: nil)
            }
        }
    }

    /// The next element if one is buffered now, without waiting (for a consumer that gathers what piled up).
    package func nextIfBuffered() -> Element? {
        let taken = state.withLock { state -> (Element, [CheckedContinuation<Bool, Never>])? in
            state.buffer.isEmpty ? nil : take(from: &state)
        }
        guard let (element, admitted) = taken else { return nil }
        for producer in admitted { producer.resume(returning: true) }
        return element
    }

    /// The next element, waiting for one until `deadline` at the latest.
    /// - Returns: `nil` at the deadline, once the queue is finished and empty, or when the task is cancelled.
    package func next(until deadline: ContinuousClock.Instant) async -> Element? {
        await withTaskGroup(of: Element?.self) { group in
            group.addTask { await self.next() }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            // The sleeper may finish first while `next()` was taking an element: keep it, not lose it.
            let second = await group.next() ?? nil
            return first ?? second
        }
    }

    /// Ends the queue and wakes every waiter: waiting producers get `false`, a waiting consumer `nil`.
    /// - Parameter droppingBuffered: Whether to drop what is buffered (`true`) or let the consumer take it
    ///   first (`false`).
    /// - Returns: The dropped elements, for their owner to release what they hold.
    @discardableResult
    package func finish(droppingBuffered: Bool) -> [Element] {
        let (consumer, producers, dropped) = state.withLock { state in
            state.finished = true
            var dropped: [Element] = []
            if droppingBuffered {
                dropped = Array(state.buffer)
                state.buffer.removeAll()
                state.size = 0
            }
            let consumer = state.consumer
            state.consumer = nil
            let producers = Array(state.producers)
            state.producers.removeAll()
            return (consumer, producers, dropped)
        }
        consumer?.continuation.resume(returning: nil)
        for producer in producers { producer.continuation.resume(returning: false) }
        return dropped
    }
}
