import Synchronization

/// Something that happens once, and the tasks that wait for it: ``wait()`` returns at once after ``signal()``.
/// Held inline (no object of its own): every connection has some.
struct OneTimeSignal: ~Copyable, Sendable {
    /// The waiting tasks; `nil` once signalled. Unchecked continuations: each is resumed once, by ``signal()``
    /// or at once by ``wait()``, and a checked one costs an object of its own for every connection's wait.
    private let waiters = Mutex<[UnsafeContinuation<Void, Never>]?>([])

    /// Wakes every waiting task, and every later one at once.
    func signal() {
        let waiting = waiters.withLock { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once ``signal()`` has been called.
    func wait() async {
        await withUnsafeContinuation { waiter in
            let signalled = waiters.withLock { waiters in
                guard waiters != nil else { return true }
                waiters?.append(waiter)
                return false
            }
            if signalled { waiter.resume() }
        }
    }
}
