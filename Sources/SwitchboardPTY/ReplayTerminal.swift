import NIOCore
public import Switchboard

/// `Switchboard.Replay`: plays a recorded PTY session (``SessionRecordings``) to a client, with its timing.
///
/// `ws://HOST/api/replay/id=20261201-031500-4f2a9c&speed=2` plays the recording at twice its speed, with no
/// pause longer than `MaxIdle` seconds; `mode=terminado` speaks terminado's protocol (xterm.js), `raw` sends
/// the output as text frames, as lines for a line client by default (``PTYOutputForm``; `output=terminal` for
/// the bytes as the terminal got them). `Paused`, `Speed` and `Position` (seconds into the recording) change while it
/// plays (`#TERMINAL {"Paused":true}`, `#TERMINAL {"Position":0}` starts again); keystrokes do too: space
/// pauses and resumes, `+` and `-` double and halve the speed, `q` stops. When the recording ends, a raw client
/// gets a status line and is back in the Shell; a terminado client gets `["disconnect", 1]` and the close.
///
/// Replaying is reading: the caller needs `GET` on `Switchboard.Recording`, and sees only the recordings it may
/// list there (its own, or all for an administrator).
public actor ReplayTerminal: TextInputTerminal, PropertyCheckingTerminal {
    public static var resourceName: String { "Switchboard.Replay" }
    public static var resourceDescription: String { "Plays a recorded PTY session (see Switchboard.Recording) with its timing" }
    /// What a session printed may hold secrets: the console never shows what passes.
    public static var messagesArePrivate: Bool { true }

    @Property(description: "The recording to play: its Id in Switchboard.Recording") var id: String? = nil
    @Property(description: "How fast: 2 plays twice as fast (0.01 to 10000)") var speed = 1.0
    @Property(description: "The longest pause in seconds, however long the recorded one was (0: as recorded)") var maxIdle = 2.0
    @Property(description: "Whether playback is paused") var paused = false
    @Property(description: "Seconds into the recording; set it to jump there (backwards starts again from the top at once)")
    var position = 0.0
    @Property(description: "terminado (JSON arrays, for xterm.js) or raw (text frames)") var mode = PTYWireMode.raw
    @Property(
        description:
            "In raw mode: lines (each line of output a message, without escape sequences: for line clients; the default) or terminal (as the terminal got it); set when opening"
    )
    var output: PTYOutputForm? = nil
    @Property(readOnly: true, description: "The recording's length in seconds") var duration = 0.0
    @Property(readOnly: true, description: "The recorded terminal's width in columns") var width = 0
    @Property(readOnly: true, description: "The recorded terminal's height in rows") var height = 0

    private let recordings: SessionRecordings
    private var file: (path: String, length: Int)?
    private var player: Task<Void, Never>?
    /// Woken when a property changes, so that a wait starts again with the new values.
    private let changed = BoundedQueue<Void>()
    /// A jump asked for by setting ``position``.
    private var jump: Double?
    /// Set while the player itself moves ``position``, which is then no jump.
    private var playing = false
    private var openedMode = PTYWireMode.raw
    /// A line client's output (``PTYOutputForm/lines``).
    private var lineOutput: PTYLineOutput?

    /// Creates a replay terminal over `recordings`; ``PTYManager/register(in:)`` registers it when the manager
    /// records sessions.
    public init(recordings: SessionRecordings) { self.recordings = recordings }

    public func open(_ connection: TerminalConnection) async throws {
        try Self.check(speed: speed, maxIdle: maxIdle)
        let identity = connection.identity
        guard identity.rights.allows(.GET, on: "Switchboard.Recording") else {
            throw SwitchboardError(.forbidden, code: .forbidden, "\(identity) may not read Switchboard.Recording, so it may not replay one")
        }
        guard let id else {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Which recording? Open /replay/id=<id>; GET /recording lists them")
        }
        guard let entry = await recordings.all.first(where: { $0.id == id }), RecordingResource.may(identity, see: entry),
            let file = await recordings.file(of: id)
        else {
            throw SwitchboardError(.notFound, code: .noMatch, "There is no recording '\(id.prefix(100))' that you may replay")
        }
        self.file = file
        (duration, width, height) = (entry.duration, entry.width, entry.height)
        openedMode = mode
        let form = output ?? (mode == .raw ? .lines : .terminal)
        output = form
        lineOutput = form == .lines ? PTYLineOutput(connection: connection) : nil
        if mode == .terminado {
            try await connection.send(#"["setup",{}]"#)
            try await connection.send(JSON.array(["resize", .int(height), .int(width)]).compact)
        }
        let start = position
        if start > 0 { jump = start }
        player = Task { [weak self] in await self?.play(on: connection) }
    }

    // MARK: Playing

    private func play(on connection: TerminalConnection) async {
        guard let file else { return }
        var events = RecordingEvents(path: file.path, length: file.length)
        /// Where the wall clock stands for a point of the recording: `anchorTime` of the recording (with long
        /// pauses shortened) was played at `anchorWall`; the rest follows at `speed`.
        var anchorWall = ContinuousClock.now
        var anchorTime = 0.0
        var played = 0.0  // recording time of the last event, with pauses shortened to maxIdle
        var reached = 0.0  // the same, for the moment the clock was last read (between two events)
        var last = 0.0  // recording time of the last event
        do {
            while !Task.isCancelled {
                if let target = jump {
                    jump = nil
                    if target < last {
                        events = RecordingEvents(path: file.path, length: file.length)
                        (played, last, reached) = (0, 0, 0)
                        try await send(output: "\u{1B}c", on: connection)  // reset the screen: played again from the top
                    }
                    var skipped = ""
                    while let event = try await events.next(until: target) {
                        if case .output(let text) = event.kind { skipped += text }
                        if case .resize(let cols, let rows) = event.kind { try await sendResize(cols: cols, rows: rows, on: connection) }
                        played += min(event.time - last, maxIdle > 0 ? maxIdle : .infinity)
                        last = event.time
                        if skipped.utf8.count >= 64 << 10 {
                            try await send(output: skipped, on: connection)
                            skipped = ""
                        }
                    }
                    if !skipped.isEmpty { try await send(output: skipped, on: connection) }
                    move(to: max(target, last))
                    reached = played
                    (anchorWall, anchorTime) = (.now, played)
                    continue
                }
                if paused {
                    _ = await changed.next()
                    (anchorWall, anchorTime) = (.now, reached)
                    continue
                }
                guard let event = try await events.peek() else { break }
                let next = played + min(max(0, event.time - last), maxIdle > 0 ? maxIdle : .infinity)
                let due = anchorWall + .seconds((next - anchorTime) / speed)
                if due > .now + .microseconds(500) {
                    let speedWhileWaiting = speed
                    if await changed.next(until: due) != nil {
                        // Speed, pause or position changed: measure again from here.
                        let elapsed = anchorWall.duration(to: .now).components
                        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                        reached = min(anchorTime + seconds * speedWhileWaiting, next)
                        (anchorWall, anchorTime) = (.now, reached)
                        continue
                    }
                }
                _ = try await events.next()
                (played, reached, last) = (next, next, event.time)
                switch event.kind {
                case .output(let text): try await send(output: text, on: connection)
                case .resize(let cols, let rows): try await sendResize(cols: cols, rows: rows, on: connection)
                case .other: break
                }
                move(to: event.time)
            }
        } catch {
            if !Task.isCancelled, connection.isAttached {
                try? await connection.send(error: SwitchboardError(.internalServerError, code: .terminalError, "The recording cannot be read: \(error)"))
            }
            return
        }
        guard !Task.isCancelled else { return }
        await ended(on: connection)
    }

    private func move(to time: Double) {
        playing = true
        position = (time * 1000).rounded() / 1000
        playing = false
    }

    private func send(output text: String, on connection: TerminalConnection) async throws {
        switch openedMode {
        case .terminado: try await connection.send(JSON.array(["stdout", .string(text)]).compact)
        case .raw:
            if let lineOutput { try await lineOutput.deliver(.output(ByteBuffer(string: text))) } else { try await connection.send(text) }
        }
    }

    /// The recorded terminal changed size: a terminado client is told (`["resize", rows, cols]`, which the
    /// browser console follows); a raw client sees nothing, as it would not have seen the resize either.
    private func sendResize(cols: Int, rows: Int, on connection: TerminalConnection) async throws {
        (width, height) = (cols, rows)
        guard openedMode == .terminado else { return }
        try await connection.send(JSON.array(["resize", .int(rows), .int(cols)]).compact)
    }

    private func ended(on connection: TerminalConnection) async {
        // Leaving the terminal closes it: the player that calls this must not be cancelled on the way.
        player = nil
        await lineOutput?.flush()
        await openedMode.end(on: connection, status: "Replay of \(id ?? "") ended (\((duration * 10).rounded() / 10) s)")
    }

    // MARK: Control

    public func receive(text: String, from connection: TerminalConnection) async throws {
        var keys = text
        if openedMode == .terminado {
            guard case .array(let items)? = try? JSON(parsing: text), case .string(let kind)? = items.first else { return }
            guard kind == "stdin", items.count == 2, case .string(let typed) = items[1] else { return }  // set_size: the size is the recording's
            keys = typed
        }
        for key in keys {
            switch key {
            case " ": paused.toggle()
            case "+": speed = min(10_000, speed * 2)
            case "-": speed = max(0.01, speed / 2)
            case "q", "\u{03}":
                player?.cancel()
                await ended(on: connection)
                return
            default: continue
            }
            changed.append(())
        }
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        try Self.check(speed: speed, maxIdle: maxIdle)
        // Before open; once open, Mode and Output stay as they were opened.
        if player == nil { try PTYOutputForm.check(output, in: mode) }
        guard player != nil else { return }
        if changes.contains($id) || changes.contains($mode) || changes.contains($output) {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Id, Mode and Output are chosen when the replay opens; open /replay/id=... again")
        }
        if changes.contains($position) && !playing {
            guard position >= 0 else { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Position is seconds from the start: 0 or more") }
            jump = position
        }
        changed.append(())
    }

    static func check(speed: Double, maxIdle: Double) throws(SwitchboardError) {
        guard speed >= 0.01, speed <= 10_000 else {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Invalid speed \(speed): it must be between 0.01 and 10000")
        }
        guard maxIdle >= 0 else { throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "MaxIdle is seconds: 0 or more") }
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        player?.cancel()
        player = nil
        changed.finish(droppingBuffered: true)
    }
}

/// The events of a recording file, read as they are needed.
struct RecordingEvents {
    struct Event {
        enum Kind {
            case output(String)
            case resize(cols: Int, rows: Int)
            case other
        }
        var time: Double
        var kind: Kind
    }

    private var chunks: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private var pending: [UInt8] = []
    private var start = 0
    private var headerRead = false
    private var peeked: Event?
    private var done = false

    init(path: String, length: Int) {
        chunks = RecordingFile.bytes(path: path, length: length).makeAsyncIterator()
    }

    /// The next event, without taking it.
    mutating func peek() async throws -> Event? {
        if peeked == nil { peeked = try await read() }
        return peeked
    }

    mutating func next() async throws -> Event? {
        if let event = peeked {
            peeked = nil
            return event
        }
        return try await read()
    }

    /// The next event if it comes before `time`.
    mutating func next(until time: Double) async throws -> Event? {
        guard let event = try await peek(), event.time <= time else { return nil }
        return try await next()
    }

    private mutating func read() async throws -> Event? {
        while let line = try await line() {
            if !headerRead {
                headerRead = true
                continue
            }
            guard case .array(let items)? = try? JSON(parsing: String(decoding: line, as: UTF8.self)), items.count == 3,
                case .string(let code) = items[1], case .string(let data) = items[2]
            else { continue }
            let time: Double
            switch items[0] {
            case .double(let value): time = value
            case .int(let value): time = Double(value)
            default: continue
            }
            switch code {
            case "o": return Event(time: time, kind: .output(data))
            case "r":
                let parts = data.split(separator: "x").compactMap { Int($0) }
                guard parts.count == 2 else { continue }
                return Event(time: time, kind: .resize(cols: parts[0], rows: parts[1]))
            default: return Event(time: time, kind: .other)
            }
        }
        return nil
    }

    /// The next whole line, without its newline.
    private mutating func line() async throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                return pending[start..<newline]
            }
            guard !done, let chunk = try await chunks.next() else {
                done = true
                return nil
            }
            pending.removeFirst(start)
            start = 0
            pending.append(contentsOf: chunk.readableBytesView)
        }
    }
}
