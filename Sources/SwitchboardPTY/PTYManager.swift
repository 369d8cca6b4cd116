public import Logging
public import NIOCore
public import NIOPosix
import Metrics
import Switchboard

/// Runs the programs of PTY terminals and decides which connections share one, with terminado's
/// terminal managers: a terminal per connection (unique), one for everybody (single), or one per name
/// (named: `/api/pty/name=work`, created on first use, shared, kept when its clients leave).
///
/// Every terminal belongs to the identity that created it. Names are per owner: Alice's `work` and Bob's
/// `work` are two terminals, so nobody can create a terminal under a name someone else will use. Others
/// attach to one (`/api/pty/owner=alice&name=work`) only when the owner shares it with them
/// (`share=bob,carol:read`) or when they are administrators. Every start and end of a program is written
/// to the audit log (label `switchboard.audit`): who, from where, which program, its pid and its exit.
///
/// ```swift
/// let ptys = PTYManager(configuration: .init(program: PTYProgram("python3")))
/// ptys.register(in: api)   // Switchboard.Pty and Switchboard.PtySession
/// ```
public actor PTYManager {
    /// How connections share programs.
    public enum Sharing: Sendable {
        /// Each connection gets its own program, ended when the connection leaves; connections that give a
        /// `Name` share the named one instead.
        case perConnection
        /// Every connection shares one program (created by the first, kept when all leave).
        case single
    }

    /// What the manager runs and its limits.
    public struct Configuration: Sendable {
        /// The program each terminal runs (default: the user's shell).
        public var program: PTYProgram
        /// How connections share programs (default: one per connection, or per name).
        public var sharing: Sharing
        /// The most programs running at once; more is a `503` for the connection that asks (default 32).
        public var maxTerminals: Int
        /// How many bytes of recent output a client gets when it attaches to a running program (default 64 KiB).
        /// A connection's own program keeps its output only until its client is attached (it has no other).
        public var replayBytes: Int
        /// How long a program and its jobs get to end after SIGHUP before SIGKILL (default 1 s).
        public var terminationGrace: Duration
        /// The most programs one identity may run at once (default 16), so that one key cannot take every
        /// slot of ``maxTerminals``.
        public var maxTerminalsPerOwner: Int
        /// How long a terminal that outlives its clients (a named one, or the single one) may run with no
        /// client attached before it is ended (default 1 hour; `nil` keeps it until it exits).
        public var idleTimeout: Duration?

        public init(
            program: PTYProgram = .defaultShell, sharing: Sharing = .perConnection, maxTerminals: Int = 32,
            replayBytes: Int = 64 << 10, terminationGrace: Duration = .seconds(1), maxTerminalsPerOwner: Int = 16,
            idleTimeout: Duration? = .seconds(3600)
        ) {
            self.maxTerminalsPerOwner = maxTerminalsPerOwner
            self.idleTimeout = idleTimeout
            self.program = program
            self.sharing = sharing
            self.maxTerminals = maxTerminals
            self.replayBytes = replayBytes
            self.terminationGrace = terminationGrace
        }
    }

    /// The configuration.
    public nonisolated let configuration: Configuration
    /// Where sessions are recorded, if they may be (see ``SessionRecordings``).
    public nonisolated let recordings: SessionRecordings?
    private let group: any EventLoopGroup
    private var sessions: [ObjectIdentifier: PTYSession] = [:]
    /// Named sessions by owner, then name.
    private var named: [NamedTerminal: PTYSession] = [:]
    private var single: PTYSession?
    private var shuttingDown = false
    private let audit: Logger
    /// `switchboard_pty_sessions`: the programs running.
    private let runningMeter = Meter(label: "switchboard_pty_sessions")

    private struct NamedTerminal: Hashable {
        let owner: String
        let name: String
    }

    /// Creates a manager; it starts nothing until a connection asks.
    /// - Parameters:
    ///   - configuration: The program and the limits.
    ///   - group: The event loops that read and write the PTYs.
    ///   - audit: Where starts and ends of programs are recorded (default label `switchboard.audit`).
    ///   - recordings: Where sessions are recorded: those whose URI asks (`record=true`), or all of them
    ///     (``RecordingConfiguration/recordsEverySession``). `nil` (the default) records nothing.
    public init(
        configuration: Configuration = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        audit: Logger = Logger(label: "switchboard.audit"), recordings: SessionRecordings? = nil
    ) {
        self.configuration = configuration
        self.recordings = recordings
        self.group = group
        self.audit = audit
    }

    /// An existing named session of an owner, if there is one.
    func existing(owner: String, name: String) -> PTYSession? {
        named[NamedTerminal(owner: owner, name: name)]
    }

    /// The program for a connection: its own, the caller's named one, or the shared one; started if needed.
    ///
    /// A connection's own program is read and written on `connectionLoop`, the connection's event loop when
    /// it has one: its output then goes from the PTY's read to the connection's write without crossing
    /// threads (``DirectOutput``). Programs that several connections may share run on the manager's group.
    func session(
        named name: String?, owner: String, clientIP: String, rows: Int, cols: Int, record: Bool = false,
        connectionLoop: (any EventLoop)? = nil
    ) async throws -> PTYSession {
        if shuttingDown { throw PTYManagerError.shuttingDown }
        if configuration.sharing == .single, let single { return single }
        if let name, let existing = named[NamedTerminal(owner: owner, name: name)] { return existing }
        guard sessions.count < configuration.maxTerminals else {
            throw PTYManagerError.tooMany(configuration.maxTerminals)
        }
        guard sessions.values.count(where: { $0.owner == owner }) < configuration.maxTerminalsPerOwner else {
            throw PTYManagerError.tooManyForOwner(configuration.maxTerminalsPerOwner)
        }
        let program = configuration.program
        // A connection's own program never gets a second client: it keeps its output only until its client is attached.
        let ownProgram = configuration.sharing == .perConnection && name == nil
        let terminal = try await PseudoTerminal.spawn(program, rows: rows, cols: cols, group: ownProgram ? connectionLoop ?? group : group)
        let session = PTYSession(
            name: configuration.sharing == .single ? nil : name, owner: owner, terminal: terminal, rows: rows, cols: cols,
            replayLimit: configuration.replayBytes, replaysToLateClients: !ownProgram, idleTimeout: ownProgram ? nil : configuration.idleTimeout)
        if let recordings, record || recordings.configuration.recordsEverySession {
            do {
                try await session.startRecording(in: recordings, audit: recordings.configuration.recordsEverySession)
            } catch {
                // A session that must be recorded does not run unrecorded: started only to be ended, so that its
                // reader closes the PTY and its process is reaped.
                await session.start {}
                await session.kill(grace: .zero)
                throw PTYManagerError.cannotRecord("\(error)")
            }
        }
        let key = ObjectIdentifier(session)
        sessions[key] = session
        runningMeter.increment()
        if configuration.sharing == .single {
            single = session
        } else if let name {
            named[NamedTerminal(owner: owner, name: name)] = session
        }
        audit.notice(
            "PTY program started",
            metadata: [
                "sb.audit.owner": .string(owner), "sb.client.ip": .string(clientIP), "sb.pty.program": .string(program.executable),
                "sb.pty.arguments": .array(program.arguments.map { .string($0) }), "sb.pty.pid": "\(terminal.pid)",
                "sb.pty.name": .string(name ?? ""),
            ])
        await session.start { [weak self] in await self?.ended(key) }
        return session
    }

    private func ended(_ key: ObjectIdentifier) async {
        guard let session = sessions.removeValue(forKey: key) else { return }
        runningMeter.decrement()
        if single === session { single = nil }
        if let name = session.name, named[NamedTerminal(owner: session.owner, name: name)] === session {
            named[NamedTerminal(owner: session.owner, name: name)] = nil
        }
        let exit = await session.exit
        audit.notice(
            "PTY program ended",
            metadata: [
                "sb.audit.owner": .string(session.owner), "sb.pty.pid": "\(session.terminal.pid)",
                "sb.pty.program": .string(session.terminal.program.executable), "sb.pty.exit": .string(exit.map { "\($0)" } ?? "unknown"),
                "sb.pty.name": .string(session.name ?? ""),
            ])
    }

    /// Whether a session ends when its last client leaves (unique terminals do).
    func endsWithItsClients(_ session: PTYSession) -> Bool {
        configuration.sharing == .perConnection && session.name == nil
    }

    /// Every running program.
    var allSessions: [PTYSession] { Array(sessions.values) }

    /// Ends the program with this process id if `allowed` says so; returns whether there was one to end.
    func kill(pid: Int32, if allowed: (PTYSession) -> Bool = { _ in true }) async -> Bool {
        guard let session = sessions.values.first(where: { $0.terminal.pid == pid }), allowed(session) else { return false }
        await session.kill(grace: configuration.terminationGrace)
        return true
    }

    /// The number of programs running.
    public var runningCount: Int { sessions.count }

    /// Kills every PTY program of the process and their sessions with SIGKILL, synchronously, from any
    /// thread: for a shutdown that must end now (`SwitchboardServer`'s `onForcedExit`). The orderly way is
    /// ``shutdown()``.
    public nonisolated static func killEveryProgramNow() {
        PseudoTerminal.killEverySessionNow()
    }

    /// Ends every program (for server shutdown): SIGHUP, then SIGKILL after the grace period. Connections
    /// that ask afterwards get an error.
    public func shutdown() async {
        shuttingDown = true
        let all = Array(sessions.values)
        await withTaskGroup(of: Void.self) { group in
            for session in all { group.addTask { await session.kill(grace: self.configuration.terminationGrace) } }
        }
    }
}

enum PTYManagerError: Error {
    case tooMany(Int)
    case tooManyForOwner(Int)
    case shuttingDown
    case cannotRecord(String)
}
