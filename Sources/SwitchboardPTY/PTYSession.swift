#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Metrics
import NIOCore
import SwitchboardCore
import Synchronization

/// What a PTY session sends its clients: the program's output, or a notice about the session (someone
/// joined or left).
enum PTYOutput: Sendable {
    /// Whole UTF-8 characters of the program's output.
    case output(ByteBuffer)
    case notice(String)
    /// A message of the wire protocol, sent as it is (terminado's `["setup",{}]`).
    case verbatim(String)

    var byteCount: Int {
        switch self {
        case .output(let bytes): bytes.readableBytes
        case .notice(let text), .verbatim(let text): text.utf8.count
        }
    }
}

/// What another identity may do in a named terminal it does not own.
public enum PTYShareAccess: String, Sendable {
    /// Watch only.
    case read
    /// Watch and type.
    case write
}

/// One program in a PTY and the clients attached to it: reads its output (only as fast as the clients
/// take it), keeps the last bytes for clients that attach later, writes their input, and sizes the PTY to
/// the smallest of the clients that may type.
///
/// A session belongs to the identity that created it (``owner``); the owner shares it with others by
/// name (``grants``). Attached clients are told when someone joins or leaves. A session that outlives its
/// clients (a named one) ends after ``idleTimeout`` without any.
actor PTYSession {
    /// A client attached to the session.
    struct Client {
        /// Who the client is (its identity's name) and where from, for join and leave notices.
        let who: String
        let identity: String
        let deliver: @Sendable (PTYOutput) async throws -> Void
        /// Hands output (whole UTF-8 characters) to the client's connection without waiting, when it can take
        /// it at once; the session's only client gets output this way straight from the PTY's event loop
        /// (``DirectOutput``). `nil`: always through ``deliver``.
        var deliverAtOnce: DirectOutput.Route? = nil
        /// After ``deliverAtOnce`` refused, asks for a call on the PTY's event loop once the client's connection
        /// has room again (``DirectOutput/WaitForRoom``). `nil`: never; the output then goes through ``deliver``.
        var waitForRoom: DirectOutput.WaitForRoom? = nil
        let exited: @Sendable (PTYExit) async -> Void
        /// Called when the client is detached: too far behind a shared terminal, or no longer allowed in.
        let evicted: @Sendable (String) async -> Void
        var size: (rows: Int, cols: Int)
        var readOnly: Bool
    }

    /// How much output may wait for the fastest client before reading stops (the program then blocks).
    static let waitLimit = 64 << 10
    /// How much output a client of a shared terminal may have queued while it takes nothing for
    /// ``stallLimit``, before it is detached.
    static let evictLimit = 1 << 20
    /// How long a client of a shared terminal with more than ``evictLimit`` queued may take nothing.
    static let stallLimit = Duration.seconds(1)
    /// How much output a client of a shared terminal may have queued at all, however it reads.
    static let dropLimit = 16 << 20

    nonisolated let name: String?
    /// The name of the identity that created the session.
    nonisolated let owner: String
    nonisolated let terminal: PseudoTerminal
    nonisolated let startedAt = Date()
    private let idleTimeout: Duration?
    private var idleTimer: Task<Void, Never>?
    /// Who else may attach, and how: identity name → access.
    private(set) var grants: [String: PTYShareAccess] = [:]
    private var replay: ReplayBuffer
    private let replaysToLateClients: Bool
    private var chunker = UTF8Chunker()
    private var clients: [Int: Client] = [:]
    private var outboxes: [Int: ClientOutbox] = [:]
    /// Woken when an outbox delivers or gives up, for a reader held back by slow clients; one slot.
    private let progress = BoundedQueue<Void>()
    private var nextClient = 0
    /// Whether the reader has taken the channel: input is written straight to the PTY or through the
    /// channel only from then on.
    private var readerHasChannel = false
    /// Input that came before the reader had taken the channel (the first keystrokes of a fast client):
    /// resumed once it has, or once the reader has ended.
    private var channelWaiters: [CheckedContinuation<Void, Never>] = []
    /// One message of input goes in whole before the next starts.
    private let inputLock = AsyncLock()
    private var appliedSize: (rows: Int, cols: Int)
    /// Finished when the reader has seen the end of the output.
    private let readerEnded = BoundedQueue<Void>()
    private(set) var exit: PTYExit?
    private var onEnd: (@Sendable () async -> Void)?
    /// `switchboard_pty_keystroke_echo_seconds`: from writing input to the PTY to the next output read from it.
    static let keystrokeEcho = Timer(label: "switchboard_pty_keystroke_echo_seconds")
    /// The session's recording, while it is recorded, and where it is kept.
    private var recorder: SessionRecorder?
    private var recordings: SessionRecordings?

    /// - Parameter replaysToLateClients: Whether clients that attach later get the recent output (a shared
    ///   program); otherwise the output is kept only until the first client is attached, which gets what the
    ///   program wrote before (its first prompt).
    init(
        name: String?, owner: String, terminal: PseudoTerminal, rows: Int, cols: Int, replayLimit: Int, replaysToLateClients: Bool,
        idleTimeout: Duration?
    ) {
        self.replaysToLateClients = replaysToLateClients
        self.name = name
        self.owner = owner
        self.idleTimeout = idleTimeout
        self.terminal = terminal
        self.replay = ReplayBuffer(limit: replayLimit)
        self.appliedSize = (rows, cols)
    }

    /// Starts reading output and watching for the program's exit, as two children of one task; `onEnd`
    /// runs once the program has ended.
    func start(onEnd: @escaping @Sendable () async -> Void) {
        self.onEnd = onEnd
        Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.read() }
                group.addTask { await self.watchExit() }
            }
        }
    }

    var clientCount: Int { clients.count }
    var size: (rows: Int, cols: Int) { appliedSize }

    // MARK: Output

    private func read() async {
        do {
            try await terminal.channel.executeThenClose { inbound, _ in
                self.readerTookChannel()
                for try await chunk in inbound {
                    await self.deliver(chunk)
                    self.terminal.directOutput.delivered(route: self.directRoute())
                }
            }
        } catch {
            // EIO once the program's side of the PTY is closed: the end of the output.
        }
        readerEnded.finish(droppingBuffered: true)
        resumeChannelWaiters()
    }

    private func readerTookChannel() {
        readerHasChannel = true
        resumeChannelWaiters()
    }

    /// How many inputs wait for the reader to take the channel (for tests).
    var inputsWaitingForTheReader: Int { channelWaiters.count }

    private func resumeChannelWaiters() {
        for waiter in channelWaiters { waiter.resume() }
        channelWaiters = []
    }

    /// Queues output for every client, then waits while even the fastest client has more than
    /// ``waitLimit`` queued: the terminal runs at the pace of its fastest reader. On a shared terminal, a
    /// client that takes nothing for ``stallLimit`` with more than ``evictLimit`` queued, or that has more
    /// than ``dropLimit`` queued, is detached, so it cannot stall the others or the memory.
    private func deliver(_ chunk: ByteBuffer) async {
        let text = chunker.chunk(chunk)
        guard text.readableBytes > 0 else { return }
        terminal.directOutput.outputRead()
        replay.append(text)
        if let recorder {
            recorder.output(text)
            // A recording that reached its size limit with this output: its clients learn it before the output.
            if let stopped = recorderHasStopped() { Task { await stopped.recordings.finish(stopped.recorder) } }
        }
        // A session's only client that has taken everything gets the output from this task: one hop less.
        if outboxes.count == 1, let only = outboxes.values.first, await only.sendIfIdle(.output(text)) { return }
        for outbox in outboxes.values { outbox.enqueue(.output(text)) }
        let pacing = OutputPacing(
            waitLimit: Self.waitLimit, evictLimit: Self.evictLimit, stallLimit: Self.stallLimit, dropLimit: Self.dropLimit)
        while true {
            let queues = outboxes.mapValues(\.pacingQueue)
            switch pacing.step(queues) {
            case .read: return
            case .evict(let ids):
                for id in ids {
                    let reason =
                        (queues[id]?.pending ?? 0) > Self.dropLimit
                        ? "More than \(Self.dropLimit >> 20) MiB behind the shared terminal"
                        : "More than \(Self.evictLimit >> 20) MiB behind the shared terminal, none of it taken for \(Self.stallLimit.components.seconds) s"
                    await evict(id, reason: reason)
                }
            case .wait: _ = await progress.next()
            }
        }
    }

    /// The way for output straight from the PTY's event loop (``DirectOutput``): open while the session has
    /// one client that takes output that way, keeps no output for later clients and holds no part of a
    /// character; it records what it sends while the session is recorded.
    private func directRoute() -> DirectOutput.Destination? {
        guard !replaysToLateClients, chunker.isEmpty, outboxes.count == 1, let (id, outbox) = outboxes.first,
            let route = clients[id]?.deliverAtOnce
        else { return nil }
        return DirectOutput.Destination(outbox: outbox, route: route, waitForRoom: clients[id]?.waitForRoom, recorder: recorder)
    }

    /// Opens or closes the way for output straight from the PTY's event loop, as the session now stands.
    private func updateDirectRoute() {
        terminal.directOutput.route(directRoute())
    }

    /// An outbox delivered something, or gave up: the reader may go on. Called by every delivery, so it
    /// takes no turn on the actor.
    nonisolated func progressed() {
        if progress.count == 0 { progress.append(()) }
    }

    /// A client's connection failed: forget it.
    func failed(_ id: Int) {
        outboxes.removeValue(forKey: id)?.stop()
        clients[id] = nil
        updateDirectRoute()
        applySize()
        progressed()
    }

    private func evict(_ id: Int, reason: String) async {
        // The outbox first, whatever happens: the pacing loop asks again until it is gone.
        outboxes.removeValue(forKey: id)?.stop()
        updateDirectRoute()
        guard let client = clients.removeValue(forKey: id) else { return }
        applySize()
        notify("\(client.who) was detached: \(reason)", except: id)
        await client.evicted(reason)
    }

    // MARK: Clients

    /// Attaches a client and returns its id. The client gets `first` (when given), then the recent output,
    /// then what follows; the others are told who joined.
    func attach(_ client: Client, first: String?) -> Int {
        idleTimer?.cancel()
        idleTimer = nil
        // Closed while the clients change: output must not go past a new client, nor before its first messages.
        terminal.directOutput.route(nil)
        defer { updateDirectRoute() }
        nextClient += 1
        let id = nextClient
        notify("\(client.who) joined\(client.readOnly ? " (read-only)" : "")", except: id)
        recorder?.marker("\(client.who) joined\(client.readOnly ? " (read-only)" : "")")
        clients[id] = client
        let outbox = ClientOutbox(deliver: client.deliver) { [weak self] delivered in
            if delivered { self?.progressed() } else { await self?.failed(id) }
        }
        if let first { outbox.enqueue(.verbatim(first)) }
        if let recorder { outbox.enqueue(.notice("This session is recorded (\(recorder.id))")) }
        let recent = replay.contents
        if recent.readableBytes > 0 { outbox.enqueue(.output(recent)) }
        if !replaysToLateClients { replay = ReplayBuffer(limit: 0) }
        outboxes[id] = outbox
        applySize()
        return id
    }

    func detach(_ id: Int) {
        let client = clients.removeValue(forKey: id)
        outboxes.removeValue(forKey: id)?.stop()
        updateDirectRoute()
        if let client {
            notify("\(client.who) left", except: id)
            recorder?.marker("\(client.who) left")
        }
        applySize()
        progressed()
        startIdleTimerIfAlone()
    }

    /// Tells every client but one about the session (after any output queued before).
    private func notify(_ text: String, except id: Int) {
        for (other, outbox) in outboxes where other != id { outbox.enqueue(.notice(text)) }
    }

    /// With no client left, ends the session after ``idleTimeout`` unless somebody attaches first.
    private func startIdleTimerIfAlone() {
        guard clients.isEmpty, exit == nil, let idleTimeout else { return }
        idleTimer?.cancel()
        idleTimer = Task { [weak self] in
            do {
                try await Task.sleep(for: idleTimeout)
            } catch {
                return
            }
            await self?.endIfIdle()
        }
    }

    private func endIfIdle() async {
        guard clients.isEmpty, exit == nil else { return }
        await kill(grace: .seconds(1))
    }

    /// Replaces who else may attach. Clients of identities that lost their access are detached; those
    /// that may now only read become read-only.
    func share(_ newGrants: [String: PTYShareAccess]) async {
        grants = newGrants
        for (id, client) in clients where client.identity != owner {
            switch newGrants[client.identity] {
            case nil: await evict(id, reason: "The owner no longer shares this terminal with '\(client.identity)'")
            case .read?: setReadOnly(id, true)
            case .write?: break
            }
        }
    }

    func setSize(_ id: Int, rows: Int, cols: Int) {
        clients[id]?.size = (rows, cols)
        applySize()
    }

    func setReadOnly(_ id: Int, _ readOnly: Bool) {
        clients[id]?.readOnly = readOnly
        applySize()
    }

    /// The smallest size among the clients that may type; viewers never change it (a 1×1 viewer must not
    /// shrink everyone's terminal). With no writer attached, the size stays as it is.
    private func applySize() {
        let writers = clients.values.filter { !$0.readOnly }
        guard let rows = writers.map(\.size.rows).min(), let cols = writers.map(\.size.cols).min() else { return }
        guard rows != appliedSize.rows || cols != appliedSize.cols else { return }
        appliedSize = (rows, cols)
        terminal.resize(rows: rows, cols: cols)
        recorder?.resize(cols: cols, rows: rows)
    }

    // MARK: Input

    /// Writes a client's input to the program; waits while the PTY takes no more.
    ///
    /// What the PTY takes at once is written straight to it from the caller's task (a keystroke skips the
    /// trip through the event loop); the rest goes to the channel in chunks of at most ``inputChunkSize``
    /// bytes, copied out of the message, each written before the next is handed over. So the channel holds
    /// at most that much of a large paste, and the message itself — counted in the API's inbound memory
    /// budget until this returns — is not kept alive by the channel afterwards. One message goes in whole
    /// before the next starts.
    /// - Throws: ``PTYSessionError/readOnly`` when the client may only watch.
    func write(_ bytes: ByteBuffer, from client: Int?) async throws {
        guard exit == nil else { throw PTYSessionError.ended }
        if !readerHasChannel, !readerEnded.isFinished {
            // The session's reader has not taken the channel yet: a client that types at once waits for it.
            await withCheckedContinuation { channelWaiters.append($0) }
        }
        if let client, clients[client]?.readOnly == true { throw PTYSessionError.readOnly }
        guard exit == nil, readerHasChannel else { throw PTYSessionError.ended }
        recorder?.input(bytes)
        terminal.directOutput.inputWritten()
        let terminal = self.terminal
        let channel = terminal.channel.channel
        try await inputLock.withLock {
            // What the PTY takes at once goes straight in (a keystroke always does); the rest through the
            // channel, each chunk written before the next, so no input is outstanding when this returns and
            // the next message's bytes cannot overtake it.
            var rest = bytes
            rest.moveReaderIndex(forwardBy: terminal.writeAtOnce(rest))
            while let chunk = rest.readSlice(length: min(rest.readableBytes, Self.inputChunkSize)), chunk.readableBytes > 0 {
                var copy = ByteBuffer()
                copy.writeImmutableBuffer(chunk)
                try await channel.writeAndFlush(copy).get()
            }
        }
    }

    /// The largest piece of input handed to the channel at once.
    static let inputChunkSize = 16 << 10

    // MARK: Recording

    /// The id of the session's recording, while it is recorded.
    var recordingID: String? { recorder?.id }

    /// Records the session from now on, in `recordings` (before ``start(onEnd:)``, from its first byte).
    /// Every client is told, and told again if the recording stops early.
    /// - Throws: When the file cannot be created.
    func startRecording(in recordings: SessionRecordings, audit: Bool) async throws {
        guard recorder == nil, exit == nil else { return }
        let size = appliedSize
        let recorder = try await recordings.start(
            owner: owner, name: name, program: terminal.program, rows: size.rows, cols: size.cols, audit: audit
        ) { [weak self] _ in
            Task { await self?.recordingStopped() }
        }
        self.recorder = recorder
        self.recordings = recordings
        // Output straight from the PTY is recorded from here on, as the session records what it delivers.
        updateDirectRoute()
        notify("This session is recorded (\(recorder.id))", except: -1)
    }

    private func recordingStopped() async {
        guard let stopped = recorderHasStopped() else { return }
        await stopped.recordings.finish(stopped.recorder)
    }

    /// The session's recording has stopped early (its size limit, a failed write): tells the clients, and
    /// returns it for closing, once. `nil` when there is no recording or it has not stopped (a notice about an
    /// earlier recording that came late).
    private func recorderHasStopped() -> (recorder: SessionRecorder, recordings: SessionRecordings)? {
        guard let recorder, let recordings, let stop = recorder.stop else { return nil }
        notify("Recording \(recorder.id) stopped: \(SessionRecorder.describe(stop)); the session goes on", except: -1)
        self.recorder = nil
        updateDirectRoute()
        return (recorder, recordings)
    }

    // MARK: Ending

    private func watchExit() async {
        let exit = await terminal.exit
        idleTimer?.cancel()
        // Let the last output through before saying so.
        await waitForReader(upTo: .milliseconds(300))
        self.exit = exit
        _ = await terminal.terminate(grace: .milliseconds(200))
        if let recorder, let recordings {
            // No output straight from the PTY after the last marker.
            self.recorder = nil
            updateDirectRoute()
            recorder.marker("The program \(exit)")
            await recordings.finish(recorder)
        }
        // Let the clients take the output already queued for them, then tell them.
        for outbox in outboxes.values { await outbox.sendRemainingAndStop() }
        outboxes = [:]
        updateDirectRoute()
        for client in clients.values { await client.exited(exit) }
        clients = [:]
        await onEnd?()
    }

    private func waitForReader(upTo timeout: Duration) async {
        _ = await readerEnded.next(until: .now + timeout)
    }

    /// Ends the program and its jobs: SIGHUP, then SIGKILL after `grace`.
    func kill(grace: Duration = .seconds(1)) async {
        _ = await terminal.terminate(grace: grace)
    }
}

enum PTYSessionError: Error {
    case ended
    case readOnly
}
