import NIOCore
import NIOPosix
import SwitchboardCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a recording took no more events.
enum RecordingStop: Sendable, Equatable {
    /// The session ended (or the recording was deleted).
    case ended
    /// The file reached its maximum size.
    case sizeLimit(Int)
    /// Writing failed (a full disk); the file holds every whole event written before.
    case writeFailed(String)
}

/// Writes one PTY session to an asciicast v2 file, as events come, without ever making the session wait.
///
/// Events are formatted on the caller's thread into whole lines and queued; one thread of its own (shared by
/// every recording) appends them to the file, each batch with one `write` of whole lines, and syncs the file
/// to disk at most a second after it changed. So a crash of the process loses nothing that was queued more
/// than a moment before, a crash of the machine at most the last second, and the file always ends with a
/// whole line. A disk slower than the output never holds up the program or the memory: past
/// ``maxQueuedBytes`` waiting, output is left out, and a marker event says how much once the disk catches up.
/// Past ``maxBytes`` the recording stops with a marker, and the session goes on.
final class SessionRecorder: Sendable {
    /// The bytes a recording may hold in memory while the disk catches up.
    static let maxQueuedBytes = 1 << 20
    /// Room kept under ``maxBytes`` for the closing marker.
    static let markerReserve = 256

    let id: String
    let path: String
    /// The largest the file may grow.
    let maxBytes: Int
    /// Whether input is recorded too (`"i"` events): only when the operator asks, since keystrokes carry passwords.
    let recordsInput: Bool
    private let started: ContinuousClock.Instant
    /// Told once when the recording stops taking events (not for ``RecordingStop/ended``).
    private let onStop: @Sendable (RecordingStop) -> Void

    private struct State {
        var descriptor: Int32
        /// Whole event lines waiting for the writer.
        var queued: [UInt8] = []
        /// The file's size once everything queued is written.
        var size: Int
        /// The size on disk, all of it whole lines.
        var written: Int
        /// Output left out since the last marker because the writer was behind.
        var droppedBytes = 0
        var writerScheduled = false
        /// Whether a delayed flush is on its way.
        var flushPending = false
        var stopped: RecordingStop?
        /// Whether the descriptor is closed once the queue is written.
        var closing = false
        var closed = false
        var unsynced = false
        var lastEventTime: Double = 0
        var peakQueuedBytes = 0
        var whenWritten: [CheckedContinuation<Void, Never>] = []

        /// What to do with the queue after it grew: write it now (a batch is ready, or no more events come),
        /// soon (a flush is scheduled), or nothing (a writer or a flush is on its way already).
        mutating func nextFlush(ended: Bool) -> Flush {
            guard !writerScheduled, !queued.isEmpty else { return .none }
            if ended || queued.count >= SessionRecorder.batchBytes {
                writerScheduled = true
                return .now
            }
            guard !flushPending else { return .none }
            flushPending = true
            return .soon
        }
    }
    private let state: Mutex<State>

    /// The thread that writes every recording: blocking file writes never run on an event loop or in the
    /// cooperative pool, and a slow disk holds up only other recordings.
    static let writerPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Creates the file (owner-only, never over an existing one) and writes the header.
    init(
        id: String, path: String, header: [UInt8], maxBytes: Int, recordsInput: Bool,
        onStop: @escaping @Sendable (RecordingStop) -> Void
    ) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RecordingError.cannotCreate(path, errno) }
        self.id = id
        self.path = path
        self.maxBytes = max(maxBytes, header.count + Self.markerReserve + 64)
        self.recordsInput = recordsInput
        self.onStop = onStop
        started = .now
        var line = header
        line.append(UInt8(ascii: "\n"))
        state = Mutex(State(descriptor: descriptor, size: 0, written: 0))
        if !Self.writeWhole(line, to: descriptor) {
            let code = errno
            close(descriptor)
            unlink(path)
            throw RecordingError.cannotCreate(path, code)
        }
        state.withLock {
            $0.size = line.count
            $0.written = line.count
            $0.unsynced = true
        }
    }

    // MARK: Events

    /// Program output: whole UTF-8 characters.
    func output(_ text: ByteBuffer) { record("o", text, canDrop: true) }

    /// Keystrokes and pastes, when ``recordsInput``.
    func input(_ bytes: ByteBuffer) {
        guard recordsInput else { return }
        record("i", ByteBuffer(string: String(decoding: bytes.readableBytesView, as: UTF8.self)), canDrop: true)
    }

    /// The terminal's new size.
    func resize(cols: Int, rows: Int) { record("r", ByteBuffer(string: "\(cols)x\(rows)"), canDrop: false) }

    /// A marker (`"m"`): a label at this point of the recording.
    func marker(_ label: String) { record("m", ByteBuffer(string: label), canDrop: false) }

    /// Seconds since the recording started.
    private var now: Double {
        let elapsed = started.duration(to: .now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// Whether output of `count` bytes is sure to be recorded without reaching the size limit (escaped, a byte
    /// takes at most six): the way straight from the PTY (``DirectOutput``) takes output only then, and leaves
    /// the output that stops the recording to the session, which tells the clients first.
    func hasRoom(forOutput count: Int) -> Bool {
        state.withLock { state in
            state.stopped == nil && !state.closing && state.size + count * 6 + Self.markerReserve <= maxBytes - Self.markerReserve
        }
    }

    private func record(_ code: Unicode.Scalar, _ data: ByteBuffer, canDrop: Bool) {
        let clock = now
        var stopped: RecordingStop?
        let flush = state.withLock { state -> Flush in
            guard state.stopped == nil, !state.closing else { return .none }
            // Events come from the session and from the PTY's event loop: their times never go back.
            let time = max(clock, state.lastEventTime)
            if canDrop && state.queued.count + data.readableBytes > Self.maxQueuedBytes {
                state.droppedBytes += data.readableBytes
                return .none
            }
            // Formatted straight into the queue: one copy of the output on this path.
            let before = state.queued.count
            let droppedBefore = state.droppedBytes
            if state.droppedBytes > 0 {
                let note = "\(state.droppedBytes) bytes of output not recorded: the disk was too slow"
                Self.appendEvent(time: time, code: "m", data: ByteBuffer(string: note), to: &state.queued)
                state.droppedBytes = 0
            }
            Self.appendEvent(time: time, code: code, data: data, to: &state.queued)
            if canDrop && state.queued.count > Self.maxQueuedBytes {
                // Escaped, it does not fit after all.
                state.queued.removeLast(state.queued.count - before)
                state.droppedBytes = droppedBefore + data.readableBytes
                return .none
            }
            if state.size + state.queued.count - before > maxBytes - Self.markerReserve {
                state.queued.removeLast(state.queued.count - before)
                let reason = RecordingStop.sizeLimit(maxBytes)
                state.stopped = reason
                stopped = reason
                Self.appendEvent(time: time, code: "m", data: ByteBuffer(string: "Recording stopped: \(Self.describe(reason))"), to: &state.queued)
                if state.size + state.queued.count - before > maxBytes { state.queued.removeLast(state.queued.count - before) }
            }
            state.size += state.queued.count - before
            state.lastEventTime = time
            state.peakQueuedBytes = max(state.peakQueuedBytes, state.queued.count)
            return state.nextFlush(ended: stopped != nil)
        }
        schedule(flush)
        if let stopped { onStop(stopped) }
    }

    /// When the queue goes to the disk: at once once it holds a batch worth a write, otherwise a moment
    /// later, so that a program printing small chunks costs one write per batch rather than one per chunk.
    enum Flush {
        case none, now, soon
    }
    /// The queue size that is written at once.
    static let batchBytes = 64 << 10
    /// How long a smaller queue may wait for more.
    static let batchDelay = TimeAmount.milliseconds(20)

    private func schedule(_ flush: Flush) {
        switch flush {
        case .none: break
        case .now: Self.writerPool.submit { _ in self.writeQueued() }
        case .soon:
            NIOSingletons.posixEventLoopGroup.any().scheduleTask(in: Self.batchDelay) {
                let now = self.state.withLock { state -> Bool in
                    state.flushPending = false
                    guard !state.writerScheduled, !state.queued.isEmpty else { return false }
                    state.writerScheduled = true
                    return true
                }
                if now { Self.writerPool.submit { _ in self.writeQueued() } }
            }
        }
    }

    /// What a stop means, for a marker and the clients.
    static func describe(_ stop: RecordingStop) -> String {
        switch stop {
        case .ended: "the session ended"
        case .sizeLimit(let bytes): "the recording reached its limit of \(byteCountText(bytes))"
        case .writeFailed(let reason): "writing the file failed (\(reason))"
        }
    }

    // MARK: Writing (on the writer thread)

    private func writeQueued() {
        while true {
            let (batch, descriptor) = state.withLock { state -> ([UInt8], Int32) in
                let batch = state.queued
                state.queued = []
                return (batch, state.closed ? -1 : state.descriptor)
            }
            if !batch.isEmpty, descriptor >= 0 {
                if Self.writeWhole(batch, to: descriptor) {
                    state.withLock {
                        $0.written += batch.count
                        $0.unsynced = true
                    }
                } else {
                    // A full disk or an I/O error: cut back to the last whole line, and stop.
                    let reason = RecordingStop.writeFailed(String(cString: strerror(errno)))
                    let first = state.withLock { state -> Bool in
                        _ = ftruncate(descriptor, off_t(state.written))
                        state.size = state.written
                        state.queued = []
                        let first = state.stopped == nil
                        state.stopped = reason
                        return first
                    }
                    if first { onStop(reason) }
                }
            }
            // Go on while a batch is ready (or the file is being closed); leave a smaller queue for later.
            let next = state.withLock { state -> Flush in
                if !state.queued.isEmpty && (state.closing || state.queued.count >= Self.batchBytes) { return .now }
                state.writerScheduled = false
                return state.nextFlush(ended: false)
            }
            switch next {
            case .now: continue
            case .soon, .none: schedule(next)
            }
            break
        }
        closeIfDone()
    }

    /// Appends all of `bytes`; `false` (with `errno`) when the file takes no more.
    private static func writeWhole(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if count == 0 {
                    errno = ENOSPC
                    return false
                }
                offset += count
            }
            return true
        }
    }

    /// Syncs the file to disk if it changed since the last sync: called about once a second.
    func syncIfChanged() {
        Self.writerPool.submit { _ in
            let descriptor = self.state.withLock { state -> Int32 in
                guard state.unsynced, !state.closed else { return -1 }
                state.unsynced = false
                return state.descriptor
            }
            if descriptor >= 0 { _ = fsync(descriptor) }
        }
    }

    /// Takes no more events, writes what is queued, syncs and closes the file; returns once it is closed.
    func finish() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let closedAlready = state.withLock { state -> Bool in
                if state.closed { return true }
                state.closing = true
                if state.stopped == nil { state.stopped = .ended }
                state.whenWritten.append(continuation)
                return false
            }
            if closedAlready {
                continuation.resume()
                return
            }
            Self.writerPool.submit { _ in self.writeQueued() }
        }
    }

    private func closeIfDone() {
        // Only the writer thread writes, syncs and closes: the descriptor stays valid outside the lock.
        let (descriptor, waiters) = state.withLock { state -> (Int32, [CheckedContinuation<Void, Never>]) in
            guard state.closing, !state.closed, state.queued.isEmpty else { return (-1, []) }
            state.closed = true
            defer { state.whenWritten = [] }
            return (state.descriptor, state.whenWritten)
        }
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
        for waiter in waiters { waiter.resume() }
    }

    deinit {
        state.withLock { state in
            if !state.closed { close(state.descriptor) }
        }
    }

    // MARK: What it holds

    /// The bytes the file holds once everything queued is written.
    var size: Int { state.withLock { $0.size } }
    /// The bytes on disk now, all of them whole lines.
    var writtenBytes: Int { state.withLock { $0.written } }
    /// Seconds from the start to the last event.
    var duration: Double { state.withLock { $0.lastEventTime } }
    /// Why it stopped, if it has.
    var stop: RecordingStop? { state.withLock { $0.stopped } }
    /// The most bytes that waited for the disk at once (for tests).
    var peakQueuedBytes: Int { state.withLock { $0.peakQueuedBytes } }
    /// The file's descriptor (for tests that put a full or a stalled file in its place).
    var descriptorForTests: Int32 { state.withLock { $0.descriptor } }

    // MARK: Format

    /// Appends `[<seconds>, "<code>", "<data>"]` and a newline: the time with microseconds, the data as a JSON string.
    /// `code` is one ASCII letter.
    static func appendEvent(time: Double, code: Unicode.Scalar, data: ByteBuffer, to line: inout [UInt8]) {
        // No reserveCapacity: growing a queue by exact amounts would copy it on every event.
        line.append(UInt8(ascii: "["))
        appendTime(time, to: &line)
        appendText(", \"", to: &line)
        line.append(UInt8(truncatingIfNeeded: code.value))
        appendText("\", \"", to: &line)
        data.withUnsafeReadableBytes { appendEscaped($0, to: &line) }
        appendText("\"]\n", to: &line)
    }

    /// Appends the bytes of a literal (a copy, not a walk through a `String`'s characters).
    @inline(__always)
    private static func appendText(_ text: StaticString, to line: inout [UInt8]) {
        line.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Seconds with six decimals, as asciinema writes them (`12.000345`).
    static func appendTime(_ time: Double, to line: inout [UInt8]) {
        let micros = Int((max(0, time) * 1_000_000).rounded())
        appendDigits(of: micros / 1_000_000, minimumCount: 1, to: &line)
        line.append(UInt8(ascii: "."))
        appendDigits(of: micros % 1_000_000, minimumCount: 6, to: &line)
    }

    /// The decimal digits of a number that is not negative, with leading zeros up to `minimumCount`.
    private static func appendDigits(of value: Int, minimumCount: Int, to line: inout [UInt8]) {
        var count = 1
        var scale = 1
        while value / scale >= 10 {
            scale *= 10
            count += 1
        }
        for _ in count..<max(count, minimumCount) { line.append(UInt8(ascii: "0")) }
        while scale > 0 {
            line.append(UInt8(ascii: "0") + UInt8((value / scale) % 10))
            scale /= 10
        }
    }

    /// The bytes of valid UTF-8 text as the inside of a JSON string, escaped as all of Switchboard's JSON is
    /// (``JSONEscaping/escape(_:into:)``), straight into the line's room beyond its end.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to line: inout [UInt8]) {
        var read = 0
        while read < bytes.count {
            let end = line.count
            line.append(contentsOf: repeatElement(0, count: bytes.count - read + JSONEscaping.room))
            let (taken, written) = line.withUnsafeMutableBytes { space in
                JSONEscaping.escape(UnsafeRawBufferPointer(rebasing: bytes[read...]), into: UnsafeMutableRawBufferPointer(rebasing: space[end...]))
            }
            read += taken
            line.removeLast(line.count - end - written)
        }
    }
}

/// A byte count for people: `512 bytes`, `64 KiB`, `1.5 MiB`.
func byteCountText(_ bytes: Int) -> String {
    if bytes < 1024 { return "\(bytes) bytes" }
    if bytes < 1 << 20 { return bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\((Double(bytes) / 1024 * 10).rounded() / 10) KiB" }
    if bytes < 1 << 30 { return bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\((Double(bytes) / 1_048_576 * 10).rounded() / 10) MiB" }
    return "\((Double(bytes) / 1_073_741_824 * 10).rounded() / 10) GiB"
}

enum RecordingError: Error, CustomStringConvertible {
    case cannotCreate(String, Int32)
    case cannotOpen(String, Int32)

    var description: String {
        switch self {
        case .cannotCreate(let path, let code): "cannot create the recording \(path): \(String(cString: strerror(code)))"
        case .cannotOpen(let path, let code): "cannot open the recording \(path): \(String(cString: strerror(code)))"
        }
    }
}
