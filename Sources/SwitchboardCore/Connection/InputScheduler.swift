/// The turn-taking of one connection's input, as a value: which message the terminal is handling, since
/// when, and whether a global command may run now or must wait.
///
/// Global commands keep their place in the input: `#TERMINAL` sent after three lines runs after the
/// terminal has handled them. A terminal that has been busy with one message for longer than the
/// threshold does not hold them up: then they run at once, so `#SHELL` and `#DISCONNECT` always get
/// through. The scheduler does no I/O and keeps no clock; the dispatcher feeds it events and does what it
/// answers, which keeps every rule testable on its own.
struct InputScheduler {
    /// What a global command should do now.
    enum Turn: Equatable {
        /// Run it.
        case run
        /// Wait for the terminal to make progress (a message handled, or a handler started), or until this
        /// instant, whichever comes first; then ask again. `nil`: no deadline.
        case wait(until: ContinuousClock.Instant?)
    }

    /// How long a handler may hold up global commands.
    let busyThreshold: Duration
    /// Messages queued for the terminal since the connection opened.
    private(set) var queued = 0
    /// Messages handled (or dropped) since the connection opened.
    private(set) var handled = 0
    /// When the running handler started, if one is running.
    private(set) var busySince: ContinuousClock.Instant?

    init(busyThreshold: Duration) {
        self.busyThreshold = busyThreshold
    }

    /// A message went into the input queue.
    mutating func messageQueued() { queued += 1 }

    /// A message that was counted as queued never got in (the queue was finished while it waited). If the
    /// input was dropped in the meantime, it is not counted twice.
    mutating func messageDropped() { handled = min(handled + 1, queued) }

    /// The terminal's handler started on a message.
    mutating func handlerStarted(at now: ContinuousClock.Instant) { busySince = now }

    /// The terminal's handler returned.
    mutating func handlerFinished() {
        busySince = nil
        handled += 1
    }

    /// The input was dropped (the terminal was switched or the connection closed): what was queued is gone.
    mutating func inputDropped() {
        handled = queued
        busySince = nil
    }

    /// Messages queued and not handled (nor dropped) yet, the running one included.
    var pending: Int { queued - handled }

    /// The place of a global command that arrives now: after every message queued before it.
    var ticket: Int { queued }

    /// Whether the global command holding `ticket` may run at `now`.
    func turn(for ticket: Int, now: ContinuousClock.Instant) -> Turn {
        guard handled < ticket else { return .run }
        guard let busySince else { return .wait(until: nil) }
        let deadline = busySince + busyThreshold
        return now >= deadline ? .run : .wait(until: deadline)
    }
}
