public import NIOCore
public import NIOPosix

/// Runs the programs of PTY terminals and decides which connections share one, with terminado's
/// terminal managers: a terminal per connection (unique), one for everybody (single), or one per name
/// (named: `/api/pty/name=work`, created on first use, shared, kept when its clients leave).
///
/// ```swift
/// let ptys = PtyManager(configuration: .init(program: PtyProgram("python3")))
/// ptys.register(in: api)   // Switchboard.Pty and Switchboard.PtySession
/// ```
public actor PtyManager {
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
        public var program: PtyProgram
        /// How connections share programs (default: one per connection, or per name).
        public var sharing: Sharing
        /// The most programs running at once; more is a `503` for the connection that asks (default 32).
        public var maxTerminals: Int
        /// How many bytes of recent output a client gets when it attaches to a running program (default 64 KiB).
        public var replayBytes: Int
        /// How long a program and its jobs get to end after SIGHUP before SIGKILL (default 1 s).
        public var terminationGrace: Duration

        public init(
            program: PtyProgram = .defaultShell, sharing: Sharing = .perConnection, maxTerminals: Int = 32,
            replayBytes: Int = 64 << 10, terminationGrace: Duration = .seconds(1)
        ) {
            self.program = program
            self.sharing = sharing
            self.maxTerminals = maxTerminals
            self.replayBytes = replayBytes
            self.terminationGrace = terminationGrace
        }
    }

    /// The configuration.
    public nonisolated let configuration: Configuration
    private let group: any EventLoopGroup
    private var sessions: [ObjectIdentifier: PtySession] = [:]
    private var named: [String: PtySession] = [:]
    private var single: PtySession?
    private var shuttingDown = false

    /// Creates a manager; it starts nothing until a connection asks.
    public init(configuration: Configuration = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// The program for a connection: its own, the named one, or the shared one.
    func session(named name: String?, rows: Int, cols: Int) async throws -> PtySession {
        if shuttingDown { throw PtyManagerError.shuttingDown }
        if configuration.sharing == .single, let single { return single }
        if let name, let existing = named[name] { return existing }
        guard sessions.count < configuration.maxTerminals else {
            throw PtyManagerError.tooMany(configuration.maxTerminals)
        }
        let terminal = try await PseudoTerminal.spawn(configuration.program, rows: rows, cols: cols, group: group)
        let session = PtySession(
            name: configuration.sharing == .single ? nil : name, terminal: terminal, rows: rows, cols: cols,
            replayLimit: configuration.replayBytes)
        let key = ObjectIdentifier(session)
        sessions[key] = session
        if configuration.sharing == .single {
            single = session
        } else if let name {
            named[name] = session
        }
        await session.start { [weak self] in await self?.ended(key) }
        return session
    }

    private func ended(_ key: ObjectIdentifier) {
        guard let session = sessions.removeValue(forKey: key) else { return }
        if single === session { single = nil }
        if let name = session.name, named[name] === session { named[name] = nil }
    }

    /// Whether a session ends when its last client leaves (unique terminals do).
    func endsWithItsClients(_ session: PtySession) -> Bool {
        configuration.sharing == .perConnection && session.name == nil
    }

    /// Every running program.
    var allSessions: [PtySession] { Array(sessions.values) }

    /// Ends the program with this process id; returns whether there was one.
    func kill(pid: Int32) async -> Bool {
        guard let session = sessions.values.first(where: { $0.terminal.pid == pid }) else { return false }
        await session.kill(grace: configuration.terminationGrace)
        return true
    }

    /// The number of programs running.
    public var runningCount: Int { sessions.count }

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

enum PtyManagerError: Error {
    case tooMany(Int)
    case shuttingDown
}
