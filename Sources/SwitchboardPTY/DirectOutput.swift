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
final class DirectOutput: Sendable {
    /// The only client's way: hands whole UTF-8 characters to its connection without waiting, or returns
    /// `false`.
    typealias Route = @Sendable (ByteBuffer) -> Bool

    /// Where the way leads: the only client's outbox (the way is open only while nothing waits in it), its
    /// connection, and the session's recording, if it is recorded.
    struct Destination: Sendable {
        let outbox: ClientOutbox
        let route: Route
        var recorder: SessionRecorder? = nil
    }

    private struct State {
        var destination: Destination?
        /// Reads passed to the session and not yet delivered by it.
        var undelivered = 0
    }

    private let state = Mutex(State())
    /// When input was last written with no output read since (`NIODeadline` nanoseconds; 0: none): the
    /// start of a keystroke's echo, for ``PTYSession/keystrokeEcho``.
    private let inputWrittenAt = Atomic<UInt64>(0)

    /// Sends `bytes` the direct way and returns `true`, or returns `false` and counts them as passed to the
    /// session (the caller then passes them on). Called on the PTY's event loop.
    func send(_ bytes: ByteBuffer) -> Bool {
        let sent = state.withLock { state in
            if let destination = state.destination, state.undelivered == 0, destination.outbox.pending == 0, Self.isWholeUTF8(bytes),
                destination.recorder?.hasRoom(forOutput: bytes.readableBytes) ?? true, destination.route(bytes)
            {
                // Under the lock: a marker the session records once it has closed the way comes after.
                destination.recorder?.output(bytes)
                return true
            }
            state.undelivered += 1
            return false
        }
        if sent { outputRead() }
        return sent
    }

    /// The session delivered a read passed to it; `route` is the way from now on (`nil`: closed).
    func delivered(route: Destination?) {
        state.withLock { state in
            state.undelivered -= 1
            state.destination = route
        }
    }

    /// Opens the way to one client (or closes it, with `nil`).
    func route(_ route: Destination?) {
        state.withLock { $0.destination = route }
    }

    /// Whether the way is open (for tests).
    var isOpen: Bool { state.withLock { $0.destination != nil } }

    /// Whether the way records what it sends (for tests).
    var records: Bool { state.withLock { $0.destination?.recorder != nil } }

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
