public import NIOCore
public import Switchboard

/// How a PTY terminal talks to its client.
public enum PTYWireMode: String, CaseIterable, PropertyValue {
    /// terminado's JSON arrays: `["stdin", s]`, `["set_size", rows, cols]` in; `["setup", {}]`,
    /// `["stdout", s]`, `["disconnect", 1]` out. What xterm.js's terminado addon speaks.
    case terminado
    /// Text frames in are lines or keystrokes (``PTYInputMode``); output goes out as text frames; binary
    /// frames in are raw bytes.
    case raw
}

/// How a raw-mode PTY terminal sends the program's output.
public enum PTYOutputForm: String, CaseIterable, PropertyValue {
    /// For line clients: each line of output is one text message, without its line break, escape sequences
    /// or other control characters; the rest of a line (a prompt) is sent when the output pauses. See
    /// the PTY guide (`Docs/PTY.md`). The default with ``PTYInputMode/line``.
    case lines
    /// The output as a terminal gets it, escape sequences and all, in text messages cut wherever the reads
    /// cut it (never inside a character). The default with ``PTYInputMode/keys`` and in terminado mode.
    case terminal

    /// Refuses `lines` for a terminado client, which is a terminal and gets the output as it is.
    static func check(_ output: PTYOutputForm?, in mode: PTYWireMode) throws(SwitchboardError) {
        guard mode == .terminado && output == .lines else { return }
        throw SwitchboardError(
            .badRequest, code: .invalidPropertyValue, "Output=lines is for raw mode; a terminado client is a terminal and gets the output as it is")
    }
}

extension PTYWireMode {
    /// Ends a client's time in a terminal whose program (or replay) is over: in raw mode a status line and back
    /// to the Shell; a terminado client understands JSON arrays only, so `["disconnect", 1]` and the close, with
    /// the status as its reason.
    func end(on connection: TerminalConnection, status: String) async {
        guard connection.isAttached else { return }
        if self == .terminado {
            try? await connection.send(#"["disconnect",1]"#)
            await connection.close(.normalClosure, reason: status)
            return
        }
        try? await connection.send("200: OK. " + status)
        try? await connection.redirectToShell()
    }
}

/// `Switchboard.Pty`: a program in a real pseudo-terminal, over WebSocket.
///
/// `ws://HOST/api/pty/rows=40&cols=120` runs the manager's program (the user's shell by default) in a PTY
/// of that size. `name=work` attaches to the named terminal `work` (created on first use, shared, kept
/// when its clients leave, replaying recent output to a client that attaches). `mode=terminado` speaks
/// terminado's protocol; `readOnly=true` only watches. When the program exits, a raw-mode client gets a
/// status line and returns to the Shell; a terminado client gets `["disconnect", 1]` and the connection is
/// closed (1000) with the exit status as the reason.
///
/// Named terminals belong to the identity that created them, and names are per owner. The owner shares
/// one with `share=bob,carol:read` (Bob may type, Carol only watch); Bob then attaches with
/// `owner=alice&name=work`. Administrators may attach to any. Everyone attached is told when someone joins
/// or leaves (`["notice", "bob (127.0.0.1) joined"]` in terminado mode, a bracketed line in raw mode).
/// `readOnly` can be turned on, never off, on a connection; viewers never change the terminal's size.
public actor PTYTerminal: TextInputTerminal, BinaryInputTerminal, PropertyCheckingTerminal, QuickInputTerminal {
    public static var resourceName: String { "Switchboard.Pty" }
    public static var resourceDescription: String { "A program (a shell by default) in a real pseudo-terminal" }
    /// Keystrokes carry passwords: the console never shows what passes.
    public static var messagesArePrivate: Bool { true }

    @Property(description: "Height in rows (1-1000)") var rows = 24
    @Property(description: "Width in columns (1-1000)") var cols = 80
    @Property(description: "Attach to the named terminal, creating it if needed; set when opening") var name: String? = nil
    @Property(description: "terminado (JSON arrays, for xterm.js) or raw (text frames, for wscat)") var mode = PTYWireMode.raw
    @Property(
        description:
            "In raw mode: line (each text message is a line and gets Enter; ^C or <Up> alone are keys) or keys (text messages are keystrokes as they are)")
    var input = PTYInputMode.line
    @Property(
        description:
            "In raw mode: lines (each line of output a message, without escape sequences: for line clients) or terminal (as a terminal gets it); the default follows Input; set when opening"
    )
    var output: PTYOutputForm? = nil
    @Property(description: "Whose named terminal to attach to (default: your own); it must be shared with you") var owner: String? = nil
    @Property(description: "Who else may attach to your named terminal: names, each with :read or :write (default), comma-separated")
    var share: String? = nil
    @Property(description: "Watch only: input is refused and the size is left to the others; cannot be turned off again") var readOnly = false
    @Property(description: "Record the session (asciicast v2, listed by Switchboard.Recording); set when opening") var record = false
    @Property(readOnly: true, description: "The id of the session's recording, if it was recorded when this connection opened it")
    var recording: String? = nil
    @Property(readOnly: true, description: "The program's process id") var pid: Int? = nil
    @Property(readOnly: true, description: "The program's exit status, once it has exited") var exitStatus: Int? = nil

    private let manager: PTYManager
    private var session: PTYSession?
    private var clientID: Int?
    private var openedName: String?
    private var openedOwner: String?
    private var openedMode = PTYWireMode.raw
    private var openedOutput: PTYOutputForm?
    /// A line client's output (``PTYOutputForm/lines``).
    private var lineOutput: PTYLineOutput?
    /// Set once the connection has been read-only: it stays so.
    private var wasReadOnly = false
    private var identityName = ""

    /// Creates a terminal that gets its program from `manager`; register it as `api.register { PTYTerminal(manager: ptys) }`
    /// or with ``PTYManager/register(in:)``.
    public init(manager: PTYManager) { self.manager = manager }

    public func open(_ connection: TerminalConnection) async throws {
        try Self.checkSize(rows, cols)
        let identity = connection.identity
        identityName = identity.name
        let ownerName = owner ?? identity.name
        let grants = try share.map { try Self.grants($0) }
        if record && manager.recordings == nil {
            throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "This server does not record sessions (it has no recording directory)")
        }
        let session: PTYSession
        if ownerName != identity.name {
            guard let name else {
                throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Owner needs Name: open /pty/owner=\(ownerName)&name=<name>")
            }
            guard grants == nil else {
                throw SwitchboardError(.forbidden, code: .forbidden, "Only the owner '\(ownerName)' may share terminal '\(name)'")
            }
            guard let existing = await manager.existing(owner: ownerName, name: name) else {
                throw SwitchboardError(.notFound, code: .terminalError, "'\(ownerName)' has no terminal named '\(name)' that is shared with you")
            }
            if !identity.rights.isAdministrator {
                switch await existing.grants[identity.name] {
                case nil:
                    throw SwitchboardError(.notFound, code: .terminalError, "'\(ownerName)' has no terminal named '\(name)' that is shared with you")
                case .read?: readOnly = true
                case .write?: break
                }
            }
            session = existing
        } else {
            if grants != nil && name == nil {
                throw SwitchboardError(.badRequest, code: .invalidPropertyValue, "Only named terminals can be shared: add name=<name>")
            }
            do {
                session = try await manager.session(
                    named: name, owner: identity.name, clientIP: connection.clientIP, rows: rows, cols: cols, record: record,
                    connectionLoop: connection.eventLoop)
            } catch PTYManagerError.tooMany(let limit) {
                throw SwitchboardError(
                    .serviceUnavailable, code: .terminalError, "There are \(limit) terminals running, the most this server allows; try again later")
            } catch PTYManagerError.tooManyForOwner(let limit) {
                throw SwitchboardError(
                    .tooManyRequests, code: .terminalError,
                    "\(identity) has \(limit) terminals running, the most one caller may; end one first (DELETE /api/ptysession/pid=...)")
            } catch PTYManagerError.shuttingDown {
                throw SwitchboardError(.serviceUnavailable, code: .terminalError, "The server is shutting down")
            } catch PTYManagerError.cannotRecord(let reason) {
                connection.logger.error("PTY session not started: it cannot be recorded", metadata: ["error": "\(reason)"])
                throw SwitchboardError(.serviceUnavailable, code: .terminalError, "The session cannot be recorded, so it was not started; try again later")
            } catch {
                throw SwitchboardError.internal(error, logger: connection.logger)
            }
            if let grants { await session.share(grants) }
        }
        if record, let recordings = manager.recordings, await session.recordingID == nil {
            // A running named terminal is recorded from now on, when its owner (or an administrator) asks.
            guard session.owner == identity.name || identity.rights.isAdministrator else {
                throw SwitchboardError(.forbidden, code: .forbidden, "Only the owner '\(session.owner)' may record terminal '\(name ?? "")'")
            }
            do {
                try await session.startRecording(in: recordings, audit: false)
            } catch {
                throw SwitchboardError.internal(error, logger: connection.logger)
            }
        }
        recording = await session.recordingID
        self.session = session
        openedName = name
        openedOwner = owner
        wasReadOnly = readOnly
        pid = Int(session.terminal.pid)
        openedMode = mode
        // The output's form follows the kind of client, which the input mode it opens with tells; a change of
        // Input later changes what its messages send, not what it shows.
        let form = output ?? (mode == .raw && input == .line ? .lines : .terminal)
        output = form
        openedOutput = form
        let lineOutput = form == .lines ? PTYLineOutput(connection: connection) : nil
        self.lineOutput = lineOutput
        // Straight from the session's sender to the connection: output takes no turn on this actor.
        let deliver: @Sendable (PTYOutput) async throws -> Void
        var deliverAtOnce: DirectOutput.Route?
        var waitForRoom: DirectOutput.WaitForRoom?
        if let lineOutput {
            // Lines are cut in the session's sender; the way straight from the PTY's event loop is for the rest.
            deliver = { output in try await lineOutput.deliver(output) }
        } else {
            deliver = { [mode] output in try await Self.deliver(output, in: mode, on: connection) }
            deliverAtOnce = { [mode] bytes in Self.deliverAtOnce(bytes, in: mode, on: connection) }
            waitForRoom = { resume in connection.callWhenWritable(resume) }
        }
        let client = PTYSession.Client(
            who: "\(identity.name) (\(connection.clientIP))", identity: identity.name,
            deliver: deliver, deliverAtOnce: deliverAtOnce, waitForRoom: waitForRoom,
            exited: { [weak self] exit in await self?.exited(exit, on: connection) },
            evicted: { [weak self] reason in await self?.evicted(reason, on: connection) },
            size: (rows, cols), readOnly: readOnly)
        // The protocol's first message, then the replay, then the output: in order, through the outbox.
        let first = mode == .terminado ? #"["setup",{}]"# : input == .line && !readOnly ? PTYLineInput.greeting : nil
        clientID = await session.attach(client, first: first)
    }

    /// Reads `bob,carol:read`: names, each with `:read` or `:write` (the default).
    static func grants(_ text: String) throws(SwitchboardError) -> [String: PTYShareAccess] {
        var grants: [String: PTYShareAccess] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1).map { $0.filter { $0 != " " } }
            guard let name = parts.first, !name.isEmpty else { continue }
            guard let access = parts.count == 2 ? PTYShareAccess(rawValue: parts[1].lowercased()) : .write else {
                throw SwitchboardError(
                    .badRequest, code: .invalidPropertyValue, "Invalid share '\(entry)'; write names, each with :read or :write, as in bob,carol:read")
            }
            grants[name] = access
        }
        return grants
    }

    private static func deliver(_ output: PTYOutput, in mode: PTYWireMode, on connection: TerminalConnection) async throws {
        switch (output, mode) {
        case (.output(let bytes), .terminado): try await connection.send(utf8Text: terminadoOutput(bytes))
        case (.output(let bytes), .raw): try await connection.send(utf8Text: bytes)
        case (.verbatim(let text), _): try await connection.send(text)
        case (.notice(let text), .terminado): try await connection.send(JSON.array(["notice", .string(text)]).compact)
        case (.notice(let text), .raw): try await connection.send("\r\n[switchboard: \(text)]\r\n")
        }
    }

    /// Output handed to the connection without waiting (``PTYSession/Client/deliverAtOnce``), framed as
    /// ``deliver(_:in:on:)`` frames it; `false` when the connection cannot take it at once.
    private static func deliverAtOnce(_ bytes: ByteBuffer, in mode: PTYWireMode, on connection: TerminalConnection) -> Bool {
        switch mode {
        case .raw: connection.sendAtOnce(utf8Text: bytes)
        case .terminado: connection.sendAtOnce(utf8Text: terminadoOutput(bytes))
        }
    }

    /// Output as terminado frames it: `["stdout", "..."]`.
    private static func terminadoOutput(_ bytes: ByteBuffer) -> ByteBuffer {
        bytes.withUnsafeReadableBytes { JSON.compactTaggedText(tag: "stdout", utf8: $0) }
    }

    private func exited(_ exit: PTYExit, on connection: TerminalConnection) async {
        exitStatus = exit.code
        session = nil
        guard connection.isAttached else { return }
        await lineOutput?.flush()
        await mode.end(on: connection, status: "The program '\(manager.configuration.program.displayName)' \(exit)")
    }

    /// This client was detached from a shared terminal (too far behind, or no longer allowed in): its
    /// connection is closed with 1008.
    private func evicted(_ reason: String, on connection: TerminalConnection) async {
        session = nil
        await connection.close(.policyViolation, reason: reason)
    }

    public func receive(text: String, from connection: TerminalConnection) async throws {
        switch mode {
        case .raw where input == .line:
            try await write(PTYLineInput.keystrokes(for: text))
        case .raw:
            try await write(ByteBuffer(string: text))
        case .terminado:
            try await terminado(text, on: connection)
        }
    }

    public func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {
        try await write(binary)
    }

    private func write(_ bytes: ByteBuffer) async throws {
        guard !readOnly else {
            throw SwitchboardError(.forbidden, code: .terminalError, "This terminal is read-only: it shows output and takes no input")
        }
        guard let session else {
            throw SwitchboardError(.conflict, code: .terminalError, "The program has ended")
        }
        do {
            try await session.write(bytes, from: clientID)
        } catch PTYSessionError.readOnly {
            throw SwitchboardError(.forbidden, code: .terminalError, "The owner shares this terminal with you read-only: it takes no input from you")
        } catch {
            throw SwitchboardError(.conflict, code: .terminalError, "The program has ended")
        }
    }

    /// One terminado message: `["stdin", text]` or `["set_size", rows, cols, ...]`. Anything else gets
    /// `["error", "<status line>"]`, which terminado clients ignore and others can show.
    private func terminado(_ text: String, on connection: TerminalConnection) async throws {
        do {
            let message: JSON
            do {
                message = try JSON(parsing: text)
            } catch {
                throw SwitchboardError(.badRequest, code: .jsonSyntax, "\(error)")
            }
            guard case .array(let items) = message, case .string(let kind)? = items.first else {
                throw SwitchboardError(
                    .badRequest, code: .invalidInput, #"terminado messages are JSON arrays such as ["stdin", "ls\r"] or ["set_size", 24, 80]"#)
            }
            switch kind {
            case "stdin":
                guard items.count == 2, case .string(let keys) = items[1] else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, #"stdin takes one string: ["stdin", "ls\r"]"#)
                }
                try await write(ByteBuffer(string: keys))
            case "set_size":
                guard items.count >= 3, case .int(let newRows) = items[1], case .int(let newCols) = items[2] else {
                    throw SwitchboardError(.badRequest, code: .invalidInput, #"set_size takes rows and columns: ["set_size", 24, 80]"#)
                }
                try Self.checkSize(newRows, newCols)
                rows = newRows
                cols = newCols
                if let session, let clientID { await session.setSize(clientID, rows: rows, cols: cols) }
            default:
                throw SwitchboardError(
                    .badRequest, code: .invalidInput, "Unknown terminado message '\(kind)'; the messages are stdin and set_size")
            }
        } catch let error as SwitchboardError {
            try await connection.send(JSON.array(["error", .string(error.statusLine)]).compact)
        }
    }

    static func checkSize(_ rows: Int, _ cols: Int) throws(SwitchboardError) {
        guard (1...1000).contains(rows), (1...1000).contains(cols) else {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Invalid size \(rows)x\(cols): rows and columns must be between 1 and 1000")
        }
    }

    public func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
        // Checked here also before open, so that a bad size in the URI refuses the connection (4400).
        if changes.contains($rows) || changes.contains($cols) { try Self.checkSize(rows, cols) }
        // Before open; once open, Mode and Output stay as they were opened.
        if session == nil { try PTYOutputForm.check(output, in: mode) }
        guard let session, let clientID else { return }  // before open: open applies the rest
        if changes.contains($name) && name != openedName {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue,
                "Name is chosen when the terminal opens; open /pty/name=\(name ?? "") to attach to another")
        }
        if changes.contains($mode) && mode != openedMode {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Mode is chosen when the terminal opens; open /pty/mode=\(mode) for the other protocol")
        }
        if changes.contains($output) && output != openedOutput {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue,
                "Output is chosen when the terminal opens; open /pty/output=\(output?.rawValue ?? "lines") for the other form")
        }
        if changes.contains($record) {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Record is chosen when the terminal opens; open /pty/record=true to record a session")
        }
        if changes.contains($owner) && owner != openedOwner {
            throw SwitchboardError(
                .badRequest, code: .invalidPropertyValue, "Owner is chosen when the terminal opens; open /pty/owner=...&name=... instead")
        }
        if changes.contains($readOnly) {
            if wasReadOnly && !readOnly {
                throw SwitchboardError(
                    .forbidden, code: .readOnlyProperty, "ReadOnly cannot be turned off: open a new connection to type")
            }
            wasReadOnly = readOnly
        }
        if changes.contains($share) {
            guard let name = session.name else {
                throw SwitchboardError(
                    .badRequest, code: .invalidPropertyValue, "Only named terminals can be shared: open /pty/name=<name>&share=\(share ?? "")")
            }
            guard session.owner == identityName else {
                throw SwitchboardError(.forbidden, code: .forbidden, "Only the owner '\(session.owner)' may share terminal '\(name)'")
            }
            await session.share(try share.map { try Self.grants($0) } ?? [:])
        }
        if changes.contains($rows) || changes.contains($cols) {
            try Self.checkSize(rows, cols)
            await session.setSize(clientID, rows: rows, cols: cols)
        }
        if changes.contains($readOnly) { await session.setReadOnly(clientID, readOnly) }
    }

    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        guard let session, let clientID else { return }
        self.session = nil
        await session.detach(clientID)
        if await manager.endsWithItsClients(session) {
            await session.kill(grace: manager.configuration.terminationGrace)
        }
    }
}
