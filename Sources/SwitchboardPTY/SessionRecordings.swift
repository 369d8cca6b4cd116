#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import Logging
import NIOCore
import NIOPosix
import Switchboard
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where PTY sessions are recorded, which ones, and how much is kept.
public struct RecordingConfiguration: Sendable {
    /// The directory of the `.cast` files (created owner-only if missing).
    public var directory: String
    /// Whether every PTY session is recorded, whether its URI asks or not (for audit). Such recordings are
    /// deleted only by administrators and by retention. Default `false`: a session is recorded when its URI
    /// says `record=true`.
    public var recordsEverySession: Bool
    /// Whether keystrokes and pastes are recorded too (`"i"` events). Default `false`: input carries passwords.
    public var recordsInput: Bool
    /// The largest one recording may grow; past it the recording stops with a marker and the session goes
    /// on (default 64 MiB).
    public var maxBytesPerRecording: Int
    /// The most all recordings may take together; the oldest finished ones are deleted first (default 1 GiB).
    public var maxTotalBytes: Int
    /// How long a finished recording is kept (default 30 days; `nil` keeps it until the total is reached).
    public var maxAge: Duration?

    /// Creates a configuration; see each property for its default.
    public init(
        directory: String, recordsEverySession: Bool = false, recordsInput: Bool = false, maxBytesPerRecording: Int = 64 << 20,
        maxTotalBytes: Int = 1 << 30, maxAge: Duration? = .seconds(30 * 86_400)
    ) {
        self.directory = directory
        self.recordsEverySession = recordsEverySession
        self.recordsInput = recordsInput
        self.maxBytesPerRecording = maxBytesPerRecording
        self.maxTotalBytes = maxTotalBytes
        self.maxAge = maxAge
    }
}

/// One recording, as `Switchboard.Recording` lists it.
public struct RecordingEntry: Codable, Sendable {
    /// The recording's id (`20261201-031500-4f2a9c`), also its file name without `.cast`.
    public var id: String
    /// The named terminal it recorded; `nil` for a connection's own terminal.
    public var name: String?
    /// The identity that opened the terminal.
    public var owner: String
    /// The program, with its arguments.
    public var program: String
    /// When it started.
    public var startedAt: Date
    /// When it ended; `nil` while it is being recorded.
    public var endedAt: Date?
    /// Seconds from the start to the last event.
    public var duration: Double
    /// The size of the file, in bytes.
    public var size: Int
    /// The terminal's width in columns when it started.
    public var width: Int
    /// The terminal's height in rows when it started.
    public var height: Int
    /// Whether it is being recorded now.
    public var recording: Bool
    /// Whether the server records every session (`serve --record`): only administrators delete it.
    public var audit: Bool
    /// Why it stopped before the session ended (its size limit, a failed write), if it did.
    public var stopped: String?
}

/// The recordings of PTY sessions: asciicast v2 files in one directory, their listing, and the limits.
///
/// The files are the truth: at start the directory is read again (a file that a crash left with half a line
/// is cut back to its last whole line), so nothing else needs to survive a restart. Register it with a
/// ``PTYManager`` (`PTYManager(configuration:recordings:)`), which then records sessions and registers
/// `Switchboard.Recording` and `Switchboard.Replay`.
public actor SessionRecordings {
    /// The media type of a recording.
    public static let mediaType = "application/x-asciicast"

    /// Where and what it records.
    public nonisolated let configuration: RecordingConfiguration
    private var entries: [String: RecordingEntry] = [:]
    private var active: [String: SessionRecorder] = [:]
    private let logger: Logger
    private var ticker: Task<Void, Never>?
    private var ticks = 0

    /// Opens the directory (creating it owner-only), lists what it holds, and applies the retention limits.
    public init(configuration: RecordingConfiguration, logger: Logger = Logger(label: "switchboard.recordings")) async throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(
            atPath: configuration.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for file in try FileManager.default.contentsOfDirectory(atPath: configuration.directory) where file.hasSuffix(".cast") {
            let path = configuration.directory + "/" + file
            do {
                let entry = try RecordingFile.readEntry(path: path, id: String(file.dropLast(5)))
                entries[entry.id] = entry
            } catch {
                logger.warning("Not a recording; left as it is", metadata: ["sb.recording.file": "\(path)", "error": "\(error)"])
            }
        }
        applyRetention()
        startTicking()
    }

    /// The recorder of a recording being made (for tests).
    func recorder(_ id: String) -> SessionRecorder? { active[id] }

    /// Starts the once-a-second work: syncing recordings to disk and, every minute, the age limit.
    private func startTicking() {
        guard ticker == nil else { return }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .seconds(1))
                } catch {
                    return
                }
                guard let self else { return }
                await self.tick()
            }
        }
    }

    private func tick() {
        for recorder in active.values { recorder.syncIfChanged() }
        ticks += 1
        if ticks % 60 == 0 { applyRetention() }
    }

    /// Finishes the recordings still running (their files written, synced and closed) and stops the
    /// background work; call it when the server stops.
    public func close() async {
        for recorder in Array(active.values) {
            recorder.marker("The server stopped")
            await finish(recorder)
        }
        ticker?.cancel()
        ticker = nil
    }

    // MARK: Recording

    /// Starts a recording: creates its file with the header.
    func start(
        owner: String, name: String?, program: PTYProgram, rows: Int, cols: Int, audit: Bool,
        onStop: @escaping @Sendable (RecordingStop) -> Void
    ) throws -> SessionRecorder {
        applyRetention()
        let started = Date()
        let id = Self.newID(at: started)
        let command = ([program.executable] + program.arguments).joined(separator: " ")
        var switchboard: JSONObject = ["id": .string(id), "owner": .string(owner), "audit": .bool(audit)]
        if let name { switchboard["name"] = .string(name) }
        let header: JSON = [
            "version": 2, "width": .int(cols), "height": .int(rows), "timestamp": .int(Int(started.timeIntervalSince1970)),
            "command": .string(command), "title": .string(name.map { "\(owner): \($0)" } ?? "\(owner): \(program.displayName)"),
            "env": ["TERM": "xterm-256color", "SHELL": .string(program.executable)], "switchboard": .object(switchboard),
        ]
        let recorder = try SessionRecorder(
            id: id, path: path(of: id), header: Array(header.compact.utf8), maxBytes: configuration.maxBytesPerRecording,
            recordsInput: configuration.recordsInput, onStop: onStop)
        active[id] = recorder
        entries[id] = RecordingEntry(
            id: id, name: name, owner: owner, program: command, startedAt: started, endedAt: nil, duration: 0, size: recorder.size,
            width: cols, height: rows, recording: true, audit: audit, stopped: nil)
        logger.notice(
            "Recording started", metadata: ["sb.recording.id": .string(id), "sb.audit.owner": .string(owner), "sb.pty.name": .string(name ?? "")])
        return recorder
    }

    /// Ends a recording: writes what is queued, closes the file, and applies the limits.
    func finish(_ recorder: SessionRecorder) async {
        await recorder.finish()
        active[recorder.id] = nil
        if var entry = entries[recorder.id] {
            entry.recording = false
            entry.size = recorder.size
            entry.duration = recorder.duration
            entry.endedAt = entry.startedAt.addingTimeInterval(entry.duration)
            if let stop = recorder.stop, stop != .ended { entry.stopped = SessionRecorder.describe(stop) }
            entries[recorder.id] = entry
        }
        applyRetention()
    }

    /// `20261201-031500-4f2a9c`: sorts by start time, and the random part keeps ids from being guessed.
    static func newID(at date: Date) -> String {
        var time = tm()
        var seconds = time_t(date.timeIntervalSince1970)
        gmtime_r(&seconds, &time)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let stamp = "\(time.tm_year + 1900)\(two(time.tm_mon + 1))\(two(time.tm_mday))-\(two(time.tm_hour))\(two(time.tm_min))\(two(time.tm_sec))"
        let random = (0..<6).map { _ in String(UInt8.random(in: 0..<16), radix: 16) }.joined()
        return "\(stamp)-\(random)"
    }

    private func path(of id: String) -> String { configuration.directory + "/" + id + ".cast" }

    // MARK: The listing

    /// Every recording, oldest first, with the live ones' current size and duration.
    var all: [RecordingEntry] {
        entries.values.map { entry in
            guard let recorder = active[entry.id] else { return entry }
            var live = entry
            live.size = recorder.size
            live.duration = recorder.duration
            if let stop = recorder.stop, stop != .ended { live.stopped = SessionRecorder.describe(stop) }
            return live
        }.sorted { $0.startedAt == $1.startedAt ? $0.id < $1.id : $0.startedAt < $1.startedAt }
    }

    /// The file of a recording and how much of it is whole lines now (a live one grows).
    func file(of id: String) -> (path: String, length: Int)? {
        guard entries[id] != nil else { return nil }
        if let recorder = active[id] { return (recorder.path, recorder.writtenBytes) }
        let path = path(of: id)
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (path, Int(info.st_size))
    }

    /// Deletes recordings; a live one stops first (its session goes on unrecorded). Returns how many.
    func delete(_ ids: [String]) async -> Int {
        var deleted = 0
        for id in ids where entries[id] != nil {
            if let recorder = active.removeValue(forKey: id) { await recorder.finish() }
            entries[id] = nil
            unlink(path(of: id))
            deleted += 1
        }
        return deleted
    }

    /// Deletes the oldest finished recordings while the total is over ``RecordingConfiguration/maxTotalBytes``,
    /// and those that ended longer than ``RecordingConfiguration/maxAge`` ago.
    private func applyRetention() {
        let current = all
        var total = current.reduce(0) { $0 + $1.size }
        let oldest = configuration.maxAge.map { Date().addingTimeInterval(-Double($0.components.seconds)) }
        for entry in current where !entry.recording {
            let tooOld = oldest.map { (entry.endedAt ?? entry.startedAt) < $0 } ?? false
            guard tooOld || total > configuration.maxTotalBytes else { continue }
            entries[entry.id] = nil
            unlink(path(of: entry.id))
            total -= entry.size
            logger.notice(
                "Recording deleted by retention",
                metadata: [
                    "sb.recording.id": .string(entry.id),
                    "reason": .string(tooOld ? "older than the age limit" : "over the \(byteCountText(configuration.maxTotalBytes)) total"),
                ])
        }
    }
}

/// Reading recording files: the listing's facts from the header and the last line, and the bytes.
enum RecordingFile {
    enum ReadError: Error {
        case notAsciicast(String)
    }

    /// The entry of a finished recording. A file that does not end with a whole line (the process was killed
    /// while writing) is cut back to its last whole line first.
    static func readEntry(path: String, id: String) throws -> RecordingEntry {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw ReadError.notAsciicast(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw ReadError.notAsciicast(String(cString: strerror(errno))) }
        var size = Int(info.st_size)
        let head = read(descriptor, at: 0, count: min(size, 64 << 10))
        guard let newline = head.firstIndex(of: UInt8(ascii: "\n")),
            case .object(let header)? = try? JSON(parsing: String(decoding: head[..<newline], as: UTF8.self)),
            header["version"] == .int(2)
        else { throw ReadError.notAsciicast("the first line is not an asciicast v2 header") }
        // The last whole line, and a cut if the file ends in the middle of one.
        let tailStart = max(newline + 1, size - (64 << 10))
        let tail = read(descriptor, at: tailStart, count: size - tailStart)
        if let lastNewline = tail.lastIndex(of: UInt8(ascii: "\n")), lastNewline != tail.count - 1 {
            size = tailStart + lastNewline + 1
            _ = ftruncate(descriptor, off_t(size))
        }
        var duration = 0.0
        let whole = tail.prefix(max(0, size - tailStart))
        if let lastLine = whole.dropLast().split(separator: UInt8(ascii: "\n")).last,
            case .array(let event)? = try? JSON(parsing: String(decoding: lastLine, as: UTF8.self))
        {
            switch event.first {
            case .double(let time)?: duration = time
            case .int(let time)?: duration = Double(time)
            default: break
            }
        }
        func int(_ key: String) -> Int { if case .int(let value)? = header[key] { value } else { 0 } }
        func text(_ object: JSONObject?, _ key: String) -> String? { if case .string(let value)? = object?[key] { value } else { nil } }
        var own: JSONObject?
        if case .object(let object)? = header["switchboard"] { own = object }
        let started = Date(timeIntervalSince1970: Double(int("timestamp")))
        return RecordingEntry(
            id: id, name: text(own, "name"), owner: text(own, "owner") ?? "", program: text(header, "command") ?? "",
            startedAt: started, endedAt: started.addingTimeInterval(duration), duration: duration, size: size, width: int("width"),
            height: int("height"), recording: false, audit: own?["audit"] == .bool(true), stopped: nil)
    }

    private static func read(_ descriptor: Int32, at offset: Int, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        return Array(bytes.prefix(max(0, got)))
    }

    /// The first `length` bytes of a file, read in parts of 64 KiB on a thread for blocking work, each part
    /// only when the consumer asks for it. The file is opened at the first read and closed at the end, or
    /// when the consumer stops asking.
    static func bytes(path: String, length: Int) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let reader = ChunkReader(path: path, length: length)
        return AsyncThrowingStream(unfolding: { try await reader.next() })
    }

    private final class ChunkReader: Sendable {
        private struct State {
            var descriptor: Int32 = -1
            var offset = 0
        }
        let path: String
        let length: Int
        private let state = Mutex(State())

        init(path: String, length: Int) {
            self.path = path
            self.length = length
        }

        func next() async throws -> ByteBuffer? {
            try await NIOThreadPool.singleton.runIfActive { () throws -> ByteBuffer? in
                try self.state.withLock { state throws -> ByteBuffer? in
                    if state.descriptor < 0 {
                        guard state.offset == 0 else { return nil }
                        state.descriptor = open(self.path, O_RDONLY | O_CLOEXEC)
                        guard state.descriptor >= 0 else { throw RecordingError.cannotOpen(self.path, errno) }
                    }
                    let count = min(64 << 10, self.length - state.offset)
                    guard count > 0 else { return nil }
                    var buffer = ByteBuffer()
                    let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                        max(0, pread(state.descriptor, pointer.baseAddress, count, off_t(state.offset)))
                    }
                    guard got > 0 else { return nil }
                    state.offset += got
                    return buffer
                }
            }
        }

        deinit {
            state.withLock { if $0.descriptor >= 0 { close($0.descriptor) } }
        }
    }
}
