import SwitchboardCore

/// A queue of values delivered by one side and awaited, one at a time, by the other; used by test
/// clients to collect what a server sends. Unbounded: a test's output is small and finite.
public final class Mailbox<Element: Sendable>: Sendable {
    private let queue = BoundedQueue<Element>()

    public init() {}

    /// Delivers a value to the next ``receive()``; after ``finish()`` it is dropped.
    public func deliver(_ element: Element) { queue.append(element) }

    /// Ends delivery: once the buffered values are received, ``receive()`` returns `nil`.
    public func finish() { queue.finish(droppingBuffered: false) }

    /// The next value, waiting for one; `nil` once finished and empty (or when the task is cancelled).
    /// One receiver at a time.
    public func receive() async -> Element? { await queue.next() }

    /// The next value, waiting for one until `deadline`; `nil` once finished and empty, or at the deadline
    /// (``isFinished`` tells which).
    public func receive(until deadline: ContinuousClock.Instant) async -> Element? { await queue.next(until: deadline) }

    /// Whether delivery has ended (``finish()``).
    public var isFinished: Bool { queue.isFinished }
}
