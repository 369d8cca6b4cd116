import DequeModule
import Synchronization

/// A first-come, first-served lock for async code: one holder at a time, waiters resume in order. A
/// connection's sends and the SQLite store's writes both go through one.
package final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        // Nothing allocated until somebody waits: one lock per connection, seldom waited for.
        var waiters = Deque<CheckedContinuation<Void, Never>>()
    }
    private let state = Mutex(State())

    /// How many callers wait for the lock.
    package var waiterCount: Int { state.withLock { $0.waiters.count } }

    package init() {}

    /// Runs `body` holding the lock.
    ///
    /// A free lock is taken without an `async` call (a connection's every send comes this way, and the lock is
    /// nearly always free); only a caller that must wait suspends.
    @inline(__always)
    package func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }

    /// Takes the lock, waiting in line while another holds it; release it with ``unlock()``. For a caller on
    /// a hot path that would rather not pass a closure (``withLock(_:)`` is the safer form).
    @inline(__always)
    package func lock() async {
        if !tryLock() { await waitForLock() }
    }

    /// Takes the lock, waiting in line for it (``tryLock()`` found it taken).
    private func waitForLock() async {
        await withCheckedContinuation { continuation in
            let acquiredNow = state.withLock { state -> Bool in
                if !state.locked {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquiredNow { continuation.resume() }
        }
    }

    /// Takes the lock if it is free, without waiting, and returns whether it did; the caller then releases
    /// it with ``unlock()``.
    package func tryLock() -> Bool {
        state.withLock { state in
            if state.locked { return false }
            state.locked = true
            return true
        }
    }

    /// Releases the lock (taken by ``tryLock()`` or ``lock()``), to the next waiter if there is one.
    package func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let next = state.waiters.popFirst() { return next }  // ownership passes to the next waiter
            state.locked = false
            return nil
        }
        next?.resume()
    }
}
