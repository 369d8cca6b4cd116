import Synchronization

/// Paces one connection's Shell commands with a token bucket: a burst goes at once, and beyond it commands
/// wait their turn at a steady rate.
///
/// Commands are paced rather than refused, so a pasted script still runs whole, in order; a client that sends
/// faster than the pace fills its input queue, and then TCP slows it down. Each connection has its own bucket,
/// so one busy client does not slow the others, and returning to the Shell does not refill it.
final class CommandPacer: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilled: ContinuousClock.Instant
    }

    let perSecond: Double
    let burst: Int
    private let bucket: Mutex<Bucket>

    /// - Parameters:
    ///   - perSecond: The steady rate; 0 or less turns pacing off.
    ///   - burst: How many commands may go at once after a quiet spell.
    init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
        bucket = Mutex(Bucket(tokens: Double(max(1, burst)), refilled: .now))
    }

    /// Takes a turn, waiting for one when the burst is spent; returns how long it waited.
    @discardableResult
    func take() async throws -> Duration {
        guard perSecond > 0 else { return .zero }
        let wait: Duration = bucket.withLock { bucket in
            let now = ContinuousClock.now
            let elapsed = bucket.refilled.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(Double(burst), bucket.tokens + seconds * perSecond)
            bucket.refilled = now
            // A turn is reserved even when it has to be waited for, so callers go in the order they came.
            bucket.tokens -= 1
            return bucket.tokens >= 0 ? .zero : .seconds(-bucket.tokens / perSecond)
        }
        if wait > .zero { try await Task.sleep(for: wait) }
        return wait
    }
}
