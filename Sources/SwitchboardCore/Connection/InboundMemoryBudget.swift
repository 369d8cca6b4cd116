import Synchronization

/// The memory that all connections of an API may hold, together, for client input not yet handled.
///
/// A byte of client input is counted from the moment it exists in the server's memory — while a compressed
/// frame is being inflated, while a message waits in a connection's queue — until its terminal has handled it.
/// When the budget is spent, readers wait for room (the clients are slowed down by TCP flow control); a reader
/// that waits longer than ``InboundAccount``'s timeout has its connection closed with `1013 Try again later`.
/// Without such a budget, permessage-deflate lets a client turn 16 KiB on the wire into 16 MiB in memory, and a
/// few dozen connections into gigabytes.
///
/// Waiters are served in arrival order, so a large reservation is not starved by a stream of small ones.
public final class InboundMemoryBudget: Sendable {
    private struct Waiter {
        let id: Int
        let bytes: Int
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var inUse = 0
        var highWater = 0
        var nextWaiterID = 0
        var waiters: [Waiter] = []
        /// Waiters given an id but not yet in `waiters`, and those of them that gave up before getting there.
        var arriving: Set<Int> = []
        var abandoned: Set<Int> = []
    }

    /// The most bytes that may be held at once.
    public let limit: Int
    private let state = Mutex(State())

    /// Creates a budget.
    /// - Parameter limit: The most bytes that may be held at once (at least 1).
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The bytes held now.
    public var inUse: Int { state.withLock { $0.inUse } }

    /// The most bytes held at once since the budget was created.
    public var highWater: Int { state.withLock { $0.highWater } }

    /// How many reservations are waiting.
    package var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Takes `bytes` if they are free now, without waiting.
    func tryReserve(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard state.waiters.isEmpty, Self.fits(bytes, in: state, limit: limit) else { return false }
            Self.take(bytes, in: &state)
            return true
        }
    }

    /// Takes `bytes`, waiting up to `timeout` for them to be released by others. When it must wait, it first
    /// calls `whileWaiting` with a function that ends the wait (as if the time had run out), from any thread.
    /// - Returns: `false` if the time ran out, the wait was ended or the task was cancelled; nothing is held then.
    func reserve(
        _ bytes: Int, timeout: Duration, whileWaiting: (_ giveUp: @escaping @Sendable () -> Void) -> Void = { _ in }
    ) async -> Bool {
        guard bytes > 0 else { return true }
        let id: Int? = state.withLock { state in
            if state.waiters.isEmpty && Self.fits(bytes, in: state, limit: limit) {
                Self.take(bytes, in: &state)
                return nil
            }
            state.nextWaiterID += 1
            state.arriving.insert(state.nextWaiterID)
            return state.nextWaiterID
        }
        guard let id else { return true }
        whileWaiting { [weak self] in self?.giveUp(id) }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.giveUp(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow: Bool? = state.withLock { state in
                    state.arriving.remove(id)
                    if state.abandoned.remove(id) != nil { return false }
                    if state.waiters.isEmpty && Self.fits(bytes, in: state, limit: limit) {
                        Self.take(bytes, in: &state)
                        return true
                    }
                    state.waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    /// Returns `bytes` to the budget and lets waiters that now fit go, in order.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let ready: [Waiter] = state.withLock { state in
            state.inUse -= bytes
            return admitWaiters(in: &state)
        }
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    /// Takes the memory of the waiters at the front that fit now, and returns them to be resumed.
    private func admitWaiters(in state: inout State) -> [Waiter] {
        var ready: [Waiter] = []
        while let first = state.waiters.first, Self.fits(first.bytes, in: state, limit: limit) {
            state.waiters.removeFirst()
            Self.take(first.bytes, in: &state)
            ready.append(first)
        }
        return ready
    }

    private func giveUp(_ id: Int) {
        let (waiter, ready): (Waiter?, [Waiter]) = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                if state.arriving.contains(id) { state.abandoned.insert(id) }
                return (nil, [])
            }
            let waiter = state.waiters.remove(at: index)
            // The one that gave up may have been holding up smaller waiters behind it.
            return (waiter, admitWaiters(in: &state))
        }
        waiter?.continuation.resume(returning: false)
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    /// A reservation larger than the whole budget is allowed when nothing else is held, so that it cannot wait forever.
    private static func fits(_ bytes: Int, in state: State, limit: Int) -> Bool {
        state.inUse + bytes <= limit || state.inUse == 0
    }

    private static func take(_ bytes: Int, in state: inout State) {
        state.inUse += bytes
        state.highWater = max(state.highWater, state.inUse)
    }
}
