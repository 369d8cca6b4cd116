/// Keeps a long loop over rows fair and stoppable: every few hundred steps it checks whether the task was
/// cancelled and lets other tasks run.
///
/// Switchboard runs every read of an entity resource under the API's ``SwitchboardAPI/Configuration/queryTimeout``
/// and cancels it when the time is up. A store that loops over many rows — decoding, filtering — calls
/// ``advance()`` once per row, so that it stops at the deadline and does not hold a thread that other
/// connections are waiting for:
///
/// ```swift
/// var progress = QueryProgress()
/// for row in rows {
///     try await progress.advance()
///     entities.append(try decode(row))
/// }
/// ```
public struct QueryProgress: Sendable {
    /// Steps left before the next check.
    @usableFromInline var stepsUntilCheck: Int
    /// How many steps pass between checks.
    public let interval: Int

    /// Creates a progress counter.
    /// - Parameter interval: How many steps pass between checks (default 256).
    public init(interval: Int = 256) {
        self.interval = max(1, interval)
        self.stepsUntilCheck = self.interval
    }

    /// Counts one step; every ``interval`` steps, throws `CancellationError` if the task was cancelled, the
    /// query's `503` if its deadline has passed (for a read that runs in the caller's task, see
    /// ``EntityResource/selectsCooperatively``), and otherwise yields to other tasks.
    ///
    /// A step between checks is a decrement and a branch, inlined into the loop: no asynchronous call is made
    /// for it, so a loop over a thousand rows pays for four checks, not for a thousand calls. It runs on the
    /// caller's executor (`nonisolated(nonsending)`): a plain `async` function starts with a hop to the global
    /// executor, and inlined into a loop that hop was a call into the runtime on every row (about 150
    /// instructions a step, measured with callgrind); the caller's actor is not left between checks either.
    @inlinable @inline(__always)
    nonisolated(nonsending) public mutating func advance() async throws {
        try await advance(by: 1)
    }

    /// Counts `steps` steps at once, for a loop that takes its rows in batches; checks as ``advance()`` does when
    /// the batch reaches the next check.
    @inlinable
    nonisolated(nonsending) public mutating func advance(by steps: Int) async throws {
        stepsUntilCheck &-= steps
        guard stepsUntilCheck <= 0 else { return }
        stepsUntilCheck = interval
        try await check()
    }

    /// Hands `body` the positions of `range` in batches of `batchSize`, counting a step for each position (one
    /// `advance(by:)` per batch), until `body` returns `false`: a scan's rows are then looked at in a plain loop.
    mutating func forEachBatch(of range: Range<Int>, batchSize: Int = 64, _ body: (Range<Int>) throws -> Bool) async throws {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + batchSize, range.upperBound)
            try await advance(by: end - start)
            guard try body(start..<end) else { return }
            start = end
        }
    }

    /// The check that ``advance()`` makes every ``interval`` steps.
    @usableFromInline
    func check() async throws {
        try Task.checkCancellation()
        if let deadline = QueryDeadline.current, ContinuousClock.now >= deadline.instant { throw deadline.expired }
        await Task.yield()
    }
}
