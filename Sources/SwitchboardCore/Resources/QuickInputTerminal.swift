/// A terminal whose input handlers return at once: they never block a thread and never run for long (a PTY
/// terminal writes a keystroke to its PTY and returns; a large paste waits for the PTY without holding a
/// thread). Its connection's reader may then run on the transport's own thread (``InboundParking/readerExecutor``),
/// so that a keystroke reaches the program without waking a thread of the concurrency pool: one hand-over
/// fewer between threads on every keystroke's round trip.
///
/// Global commands, and input for a terminal that is not quick (after a switch), are still run on the
/// concurrency pool, so that nothing of unknown length runs on a thread that serves other connections.
///
/// Package-level, not for terminals declared by applications: a handler that blocked would hold up every
/// connection of that thread.
package protocol QuickInputTerminal: TerminalResource {}

/// What a reader on the transport's thread takes on for a quick terminal (``QuickInputTerminal``).
package enum QuickInput {
    /// The largest message read and handled on the transport's thread: a keystroke, a line, a short paste (the
    /// size of the pieces a PTY's input is written in). A larger one (and a message in fragments, or compressed
    /// so that it inflates to more) is read, inflated and handled on the concurrency pool: joining, inflating
    /// and checking its UTF-8 cost in proportion to its size, up to the message limit.
    package static let largestMessage = 16 << 10
}
