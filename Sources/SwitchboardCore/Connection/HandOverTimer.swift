import Synchronization

/// Tells a connection's reader to hand the reading over when the handler it runs itself has run for the
/// hand-over delay (``ConnectionDispatcher``).
///
/// Every message a reader handles is watched, so watching is on the path of every message: it appends an
/// entry to one queue under one lock, with no closure, no weak reference and nothing to cancel. An entry
/// names the handler by its number; when its deadline comes and that handler has returned (nearly always),
/// one atomic load drops it. One sleeping task serves every connection, and only while entries wait; it
/// wakes at most once per ``granularity``, however many messages come (a hand-over comes at most that much
/// after its deadline), since waking for each entry costs more than the entries.
///
/// Entries leave in the order they came. Every connection of one API waits the same delay, so deadlines
/// come in order; APIs with different busy thresholds in one process can make an entry wait behind a later
/// one, late by at most the difference of their delays (at most 10 ms).
final class HandOverTimer: Sendable {
    /// The timer every connection shares.
    static let shared = HandOverTimer()

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let dispatcher: ConnectionDispatcher
        let handler: Int
    }

    private struct State {
        /// The waiting entries from `head` on; the slots before it are spent.
        var entries: [Entry] = []
        var head = 0
        /// Whether the sleeping task runs (it ends when no entry waits).
        var sleeping = false
    }

    private let state = Mutex(State())

    /// The least time between two wakes of the sleeping task.
    static let granularity = Duration.milliseconds(5)

    /// Calls the dispatcher's ``ConnectionDispatcher/handOverReading(handler:)`` at `deadline` if the
    /// handler of that number is still running then.
    func watch(_ dispatcher: ConnectionDispatcher, handler: Int, deadline: ContinuousClock.Instant) {
        let startsSleeper = state.withLock { state -> Bool in
            state.entries.append(Entry(deadline: deadline, dispatcher: dispatcher, handler: handler))
            guard !state.sleeping else { return false }
            state.sleeping = true
            return true
        }
        if startsSleeper { Task.detached { await self.sleep(until: deadline) } }
    }

    private func sleep(until first: ContinuousClock.Instant) async {
        var until = first
        while true {
            try? await Task.sleep(until: until, clock: .continuous)
            let (due, next) = state.withLock { state -> ([Entry], ContinuousClock.Instant?) in
                let now = ContinuousClock.now
                var due: [Entry] = []
                while state.head < state.entries.count, state.entries[state.head].deadline <= now {
                    // Nearly every entry's handler has returned: it is dropped here, without a copy.
                    if state.entries[state.head].dispatcher.isRunningInline(handler: state.entries[state.head].handler) {
                        due.append(state.entries[state.head])
                    }
                    state.head += 1
                }
                if state.head == state.entries.count {
                    state.entries.removeAll(keepingCapacity: state.entries.capacity <= 4096)
                    state.head = 0
                    state.sleeping = false
                    return (due, nil)
                }
                if state.head >= 1024, state.head * 2 >= state.entries.count {
                    state.entries.removeFirst(state.head)
                    state.head = 0
                }
                return (due, state.entries[state.head].deadline)
            }
            for entry in due { entry.dispatcher.handOverReading(handler: entry.handler) }
            guard let next else { return }
            until = max(next, .now + Self.granularity)
        }
    }
}
