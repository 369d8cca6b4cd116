import Synchronization

/// Runs actions at deadlines, with one sleeping task for all of them: a query's deadline costs an entry in a
/// table, not a task and a timer of its own.
///
/// The sleeper sleeps until the earliest deadline; a new deadline that comes earlier starts a new sleeper.
/// Cancelled entries are dropped from the table; a sleeper that wakes for one finds nothing to run and
/// sleeps on until the next deadline, or ends when there is none. With equal timeouts (every query's), new
/// deadlines are never the earliest, so under steady load the sleeper wakes about once per timeout.
final class DeadlineTimer: Sendable {
    /// The timer every query shares.
    static let shared = DeadlineTimer()

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        /// The sleeper and the deadline it sleeps until.
        var sleeper: (task: Task<Void, Never>, until: ContinuousClock.Instant)?
    }

    private let state = Mutex(State())

    /// Runs `action` at `deadline` (on a task of the timer's), unless ``cancel(_:)`` comes first. Actions
    /// that are due together run in the order of their deadlines.
    /// - Returns: The entry's id, for ``cancel(_:)``.
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = Entry(deadline: deadline, action: action)
            if let sleeper = state.sleeper, sleeper.until <= deadline { return state.nextID }
            state.sleeper?.task.cancel()
            state.sleeper = (Task { await self.sleep(until: deadline) }, deadline)
            return state.nextID
        }
    }

    /// Drops an entry; its action will not run (unless it is running already).
    func cancel(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func sleep(until first: ContinuousClock.Instant) async {
        var until = first
        while true {
            do {
                try await Task.sleep(until: until, clock: .continuous)
            } catch {
                return  // replaced by a sleeper for an earlier deadline
            }
            let (due, next) = state.withLock { state -> ([Entry], ContinuousClock.Instant?) in
                let now = ContinuousClock.now
                let due = state.entries.filter { $0.value.deadline <= now }
                for id in due.keys { state.entries[id] = nil }
                let next = state.entries.values.map(\.deadline).min()
                if let next {
                    state.sleeper?.until = next
                } else {
                    state.sleeper = nil
                }
                return (due.values.sorted { $0.deadline < $1.deadline }, next)
            }
            for entry in due { entry.action() }
            guard let next else { return }
            until = next
        }
    }
}
