import CSwitchboardPTY
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A program to run in a pseudo-terminal.
public struct PTYProgram: Sendable {
    /// The executable: a path, or a name looked up in `PATH`.
    public var executable: String
    /// The arguments after the program name.
    public var arguments: [String]
    /// Variables set for the program, on top of those it inherits (see ``inheritedVariables``), and
    /// `TERM=xterm-256color`.
    public var environment: [String: String]
    /// Names of the server's environment variables the program gets besides ``defaultInheritedVariables``.
    /// Nothing else of the server's environment reaches it: secrets in the server's environment (tokens,
    /// database passwords) stay out of every shell.
    public var inheritedVariables: [String]
    /// The working directory; `nil` keeps the server's.
    public var directory: String?

    public init(
        _ executable: String, arguments: [String] = [], environment: [String: String] = [:], inheritedVariables: [String] = [],
        directory: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.inheritedVariables = inheritedVariables
        self.directory = directory
    }

    /// The variables every program inherits from the server: `PATH`, `HOME`, `USER`, `SHELL`, `LANG`,
    /// every `LC_*`, and `TERM` (which is then set to `xterm-256color`).
    public static let defaultInheritedVariables = ["PATH", "HOME", "USER", "SHELL", "LANG", "TERM"]

    /// Whether the program inherits the server's variable of this name.
    func inherits(_ name: String) -> Bool {
        Self.defaultInheritedVariables.contains(name) || name.hasPrefix("LC_") || inheritedVariables.contains(name)
    }

    /// The user's shell: `$SHELL` if it exists, else `bash` if it is installed, else `sh`.
    public static var defaultShell: PTYProgram {
        if let shell = getenv("SHELL").map({ String(cString: $0) }), !shell.isEmpty, access(shell, X_OK) == 0 {
            return PTYProgram(shell)
        }
        for candidate in ["/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"] where access(candidate, X_OK) == 0 {
            return PTYProgram(candidate)
        }
        return PTYProgram("/bin/sh")
    }

    /// The program's name, for messages (`bash`).
    var displayName: String { executable.split(separator: "/").last.map(String.init) ?? executable }
}

/// Why a program in a PTY ended.
public enum PTYExit: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int)
    /// A signal killed it.
    case signaled(Int)

    init(waitStatus: Int32) {
        if waitStatus & 0x7f == 0 {
            self = .exited(Int((waitStatus >> 8) & 0xff))
        } else {
            self = .signaled(Int(waitStatus & 0x7f))
        }
    }

    /// The shell convention: the exit status, or 128 + the signal.
    public var code: Int {
        switch self {
        case .exited(let status): status
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "was killed by signal \(signal)"
        }
    }
}

/// One program running in a pseudo-terminal: its process, the PTY master as a NIO channel with
/// back-pressure, resizing and teardown. Spawned with `posix_spawn` into a new session whose controlling
/// terminal is the PTY, so job control works (Ctrl-C, Ctrl-Z).
final class PseudoTerminal: Sendable {
    let pid: Int32
    let program: PTYProgram
    /// The master, for reading output and writing input. Reading stops while the consumer is behind.
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    /// The way output may take from the channel's event loop straight to the session's only client.
    let directOutput: DirectOutput
    private let pidfd: Int32
    /// A second descriptor of the master (NIO owns the first) for the size and the foreground group.
    private let control: Int32
    private let exitTask: Task<PTYExit, Never>
    /// Whether `control` has been closed (the ioctls use it until then).
    private let controlClosed = Mutex<Bool>(false)
    private let exited: ExitRecord

    private init(
        pid: Int32, pidfd: Int32, control: Int32, program: PTYProgram, channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        directOutput: DirectOutput
    ) {
        self.pid = pid
        self.directOutput = directOutput
        self.pidfd = pidfd
        self.control = control
        self.program = program
        self.channel = channel
        let exited = ExitRecord()
        self.exited = exited
        PseudoTerminal.running.withLock { _ = $0.insert(pid) }
        exitTask = Task {
            let exit = PTYExit(waitStatus: await ProcessReaper.shared.waitForExit(pidfd: pidfd))
            exited.record(exit)
            _ = PseudoTerminal.running.withLock { $0.remove(pid) }
            return exit
        }
    }

    deinit {
        // The descriptors go once the process is gone (the reaper no longer needs the pidfd).
        let pidfd = self.pidfd
        let exitTask = self.exitTask
        let isControlClosed = controlClosed.withLock { $0 }
        let control = self.control
        Task {
            _ = await exitTask.value
            close(pidfd)
            if !isControlClosed { close(control) }
        }
    }

    /// The process ids of the programs started and not yet reaped, for ``killEverySessionNow()``.
    static let running = Mutex<Set<Int32>>([])

    /// Sends SIGKILL to the whole session of every running program, at once and without waiting: for a
    /// process that must exit now (a shutdown that overran its deadline).
    static func killEverySessionNow() {
        for pid in running.withLock({ $0 }) {
            _ = sb_signal_session(pid, SIGKILL)
            kill(-pid, SIGKILL)
        }
    }

    /// Starts a program in a new PTY of the given size.
    static func spawn(_ program: PTYProgram, rows: Int, cols: Int, group: any EventLoopGroup) async throws -> PseudoTerminal {
        var path = [CChar](repeating: 0, count: 128)
        let master = sb_pty_open(&path, Int32(path.count), UInt16(rows), UInt16(cols))
        guard master >= 0 else { throw PTYError.system("opening a pseudo-terminal", -master) }
        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "="), program.inherits(String(text[..<equals])) {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        environment["TERM"] = "xterm-256color"
        environment["COLUMNS"] = nil
        environment["LINES"] = nil
        for (key, value) in program.environment { environment[key] = value }
        let argv = [program.executable] + program.arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawned = withCStrings(argv) { arguments in
            withCStrings(envp) { variables in
                sb_pty_spawn(&pid, program.executable, arguments, variables, path, program.directory)
            }
        }
        guard spawned == 0 else {
            close(master)
            throw PTYError.system("starting '\(program.executable)'", spawned)
        }
        let pidfd = sb_pidfd_open(pid)
        let control = fcntl(master, F_DUPFD_CLOEXEC, 0)
        guard pidfd >= 0, control >= 0 else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            close(master)
            if pidfd >= 0 { close(pidfd) }
            if control >= 0 { close(control) }
            throw PTYError.system("watching the program", pidfd < 0 ? -pidfd : errno)
        }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let directOutput = DirectOutput()
        do {
            channel = try await NIOPipeBootstrap(group: group)
                .takingOwnershipOfDescriptor(inputOutput: master) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let gathererMaster = fcntl(master, F_DUPFD_CLOEXEC, 0)
                        let gatherer =
                            gathererMaster >= 0
                            ? PTYReadGatherer(readingOnFrom: gathererMaster, direct: directOutput) : PTYReadGatherer(direct: directOutput)
                        do {
                            try channel.pipeline.syncOperations.addHandler(gatherer)
                        } catch {
                            if gathererMaster >= 0 { close(gathererMaster) }
                            throw error
                        }
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
                    }
                }
        } catch {
            _ = sb_pidfd_send_signal(pidfd, SIGKILL)
            close(control)
            let terminal = PseudoTerminal.reapOnly(pid: pid, pidfd: pidfd)
            _ = await terminal.value
            throw error
        }
        return PseudoTerminal(pid: pid, pidfd: pidfd, control: control, program: program, channel: channel, directOutput: directOutput)
    }

    private static func reapOnly(pid: Int32, pidfd: Int32) -> Task<Void, Never> {
        Task {
            _ = await ProcessReaper.shared.waitForExit(pidfd: pidfd)
            close(pidfd)
        }
    }

    /// How the program ended; waits for it.
    var exit: PTYExit { get async { await exitTask.value } }

    /// Whether the program has ended.
    var hasExited: Bool { exited.value != nil }

    /// Sets the window size; the kernel sends SIGWINCH to the foreground job.
    func resize(rows: Int, cols: Int) {
        controlClosed.withLock { closed in
            guard !closed else { return }
            _ = sb_pty_set_size(control, UInt16(clamping: rows), UInt16(clamping: cols))
        }
    }

    /// Writes as much of `bytes` as the PTY takes at once, straight to the master from the caller's thread,
    /// and returns how many bytes went in: 0 when it takes nothing now (its input queue is full) or is
    /// closed. The master is non-blocking, so this never waits; a keystroke saves the trip through the
    /// channel's event loop. The caller must not have channel writes outstanding, or the bytes would
    /// overtake them.
    func writeAtOnce(_ bytes: ByteBuffer) -> Int {
        controlClosed.withLock { closed in
            guard !closed, bytes.readableBytes > 0 else { return 0 }
            return bytes.withUnsafeReadableBytes { raw in max(Glibc.write(control, raw.baseAddress, raw.count), 0) }
        }
    }

    /// Ends the program and everything it started in its session: SIGHUP (and SIGCONT) to its process
    /// groups, a moment for the shell to pass the hangup to its jobs, then the PTY is closed, and after
    /// `grace` whatever is left of the session gets SIGKILL. Returns once the program is reaped.
    func terminate(grace: Duration = .seconds(1)) async -> PTYExit {
        let foreground = controlClosed.withLock { $0 ? -1 : sb_pty_foreground_group(control) }
        for group in Set([pid, foreground]) where group > 0 {
            kill(-group, SIGHUP)
            kill(-group, SIGCONT)
        }
        _ = sb_pidfd_send_signal(pidfd, SIGHUP)
        _ = await waitForExit(within: .milliseconds(100))
        try? await channel.channel.close()
        controlClosed.withLock { closed in
            if !closed {
                close(control)
                closed = true
            }
        }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if await waitForExit(within: .milliseconds(50)) != nil && sb_signal_session(pid, 0) == 0 { break }
        }
        _ = sb_pidfd_send_signal(pidfd, SIGKILL)
        _ = sb_signal_session(pid, SIGKILL)
        return await exit
    }

    /// The exit, if it comes within `timeout` (checked every 10 ms: this is the teardown path only).
    private func waitForExit(within timeout: Duration) async -> PTYExit? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let exit = exited.value { return exit }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// How a program ended, once it has.
final class ExitRecord: Sendable {
    private let exit = Mutex<PTYExit?>(nil)
    var value: PTYExit? { exit.withLock { $0 } }
    func record(_ value: PTYExit) { exit.withLock { $0 = value } }
}

/// Errors starting or driving a PTY.
enum PTYError: Error, CustomStringConvertible {
    case system(String, Int32)

    var description: String {
        switch self {
        case .system(let what, let code): "\(what) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    return (duplicates + [nil]).withUnsafeBufferPointer { body($0.baseAddress!) }
}
