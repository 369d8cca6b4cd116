import Metrics
import NIOCore
import SwitchboardCore
import Synchronization

/// The way a PTY's output may take from the PTY's event loop straight to the connection of the session's
/// only client, skipping the session's task: one hand-over between threads less for every keystroke's echo.
///
/// The session opens the way (``route(_:)``) while it has one client, keeps no output for later clients and
/// holds no part of a character. The ``PTYReadGatherer`` offers each read it passes on (``send(_:)``); a read
/// goes the direct way only when the way is open, nothing read before is still on its way through the session
/// or queued for the client, the read is whole UTF-8 characters, and a recording has room for it; and only
/// when the client's connection takes it at once. Otherwise it goes through the session as before, which
/// counts it off when delivered (``delivered(route:)``). So the output keeps its order, the session still
/// holds the program back for a slow client, and a second client or a notice closes the way first. A read
/// that goes the direct way is recorded here, once it is sent, so a recording keeps the order of the output.
///
/// When the client's connection refused only because it had no room (a client that reads more slowly than
/// the program writes), the read may wait for room on the PTY's event loop instead of going through the
/// session, if the connection is served on that event loop and can say when it has room again
/// (``Destination/waitForRoom``): the ``PTYReadGatherer`` then holds it and reads nothing more until called,
/// so the program is held back as before, and its output still takes no hand-over between threads. A change of
/// the way calls who waits as well, so that a read never waits on a way that has closed.
final class DirectOutput: Sendable {
    /// The only client's way: hands whole UTF-8 characters to its connection without waiting, or returns
    /// `false`.
    typealias Route = @Sendable (ByteBuffer) -> Bool
    /// After the way refused, asks for the given function to be called on the PTY's event loop once the
    /// client's connection has room again (or closes), and returns whether it will be
    /// (``TerminalConnection/callWhenWritable(_:)``).
    typealias WaitForRoom = @Sendable (@escaping @Sendable () -> Void) -> Bool

    /// Where the way leads: the only client's outbox (the way is open only while nothing waits in it), its
    /// connection, how to wait for room in it, and the session's recording, if it is recorded.
    struct Destination: Sendable {
        let outbox: ClientOutbox
        let route: Route
        var waitForRoom: WaitForRoom? = nil
        var recorder: SessionRecorder? = nil
    }

    /// What became of a read offered to the way (``send(_:resumeWhenThereIsRoom:)``).
    enum Outcome {
        /// Sent to the client's connection.
        case sent
        /// Not sent: the caller holds it until called back, when the connection has room or the way changed,
        /// and offers it again then.
        case waiting
        /// Counted as passed to the session: the caller passes it on.
        case passedToSession
    }

    private struct State {
        var destination: Destination?
        /// Reads passed to the session and not yet delivered by it.
        var undelivered = 0
        /// Who holds a read until the connection has room: called when the way changes, too.
        var waiter: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    /// When input was last written with no output read since (`NIODeadline` nanoseconds; 0: none): the
    /// start of a keystroke's echo, for ``PTYSession/keystrokeEcho``.
    private let inputWrittenAt = Atomic<UInt64>(0)

    /// Sends `bytes` the direct way; or, when the connection refused them for want of room and `resume` is
    /// given, has `resume` called when there is room (or the way changes) and leaves them to the caller to
    /// hold until then; or counts them as passed to the session, and the caller passes them on. Called on the
    /// PTY's event loop.
    func send(_ bytes: ByteBuffer, resumeWhenThereIsRoom resume: (@Sendable () -> Void)? = nil) -> Outcome {
        let outcome = state.withLock { state -> Outcome in
            state.waiter = nil
            if let destination = state.destination, state.undelivered == 0, destination.outbox.pending == 0, Self.isWholeUTF8(bytes),
                destination.recorder?.hasRoom(forOutput: bytes.readableBytes) ?? true
            {
                if destination.route(bytes) {
                    // Under the lock: a marker the session records once it has closed the way comes after.
                    destination.recorder?.output(bytes)
                    return .sent
                }
                if let resume, let waitForRoom = destination.waitForRoom, waitForRoom(resume) {
                    state.waiter = resume
                    return .waiting
                }
            }
            state.undelivered += 1
            return .passedToSession
        }
        if outcome == .sent { outputRead() }
        return outcome
    }

    /// The session delivered a read passed to it; `route` is the way from now on (`nil`: closed).
    func delivered(route: Destination?) {
        state.withLock { state in
            state.undelivered -= 1
            state.destination = route
        }
    }

    /// Opens the way to one client (or closes it, with `nil`); a read held for room is offered again.
    func route(_ route: Destination?) {
        let waiter = state.withLock { state in
            state.destination = route
            return state.waiter.take()
        }
        waiter?()
    }

    /// Forgets who holds a read for room (the holder is going away).
    func stopWaiting() {
        state.withLock { $0.waiter = nil }
    }

    /// Whether the way is open (for tests).
    var isOpen: Bool { state.withLock { $0.destination != nil } }

    /// Whether the way records what it sends (for tests).
    var records: Bool { state.withLock { $0.destination?.recorder != nil } }

    /// Whether a read is held until the client's connection has room (for tests).
    var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    /// Whether the next read will be offered to the client's connection: the way is open and nothing is ahead
    /// (for tests).
    var isClear: Bool { state.withLock { $0.undelivered == 0 && $0.destination?.outbox.pending == 0 } }

    /// Input was written to the program: its echo starts now, unless earlier input has not been answered yet.
    func inputWritten() {
        _ = inputWrittenAt.compareExchange(expected: 0, desired: NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// Output was read: records how long the input written before it waited for it.
    func outputRead() {
        let at = inputWrittenAt.exchange(0, ordering: .relaxed)
        guard at != 0 else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        PTYSession.keystrokeEcho.recordNanoseconds(Int64(now > at ? now - at : 0))
    }

    /// Whether the bytes are valid UTF-8, which ends with a whole character (what a text message needs).
    static func isWholeUTF8(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes(\.isValidUTF8)
    }
}
