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
