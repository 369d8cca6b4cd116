#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore

/// One program in a PTY and the clients attached to it: reads its output (only as fast as the clients
/// take it), keeps the last bytes for clients that attach later, writes their input, and sizes the PTY to
/// the smallest of the clients that may type.
actor PtySession {
    /// A client attached to the session.
    struct Client {
        let deliver: @Sendable (String) async throws -> Void
        let exited: @Sendable (PtyExit) async -> Void
        var size: (rows: Int, cols: Int)
        var readOnly: Bool
    }

    nonisolated let name: String?
    nonisolated let terminal: PseudoTerminal
    nonisolated let startedAt = Date()
    private let replayLimit: Int
    private var replay: [UInt8] = []
    private var carry: [UInt8] = []
    private var clients: [Int: Client] = [:]
    private var nextClient = 0
    private var writer: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    private var appliedSize: (rows: Int, cols: Int)
    private var readerDone = false
    private var readerWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var exit: PtyExit?
    private var onEnd: (@Sendable () async -> Void)?

    init(name: String?, terminal: PseudoTerminal, rows: Int, cols: Int, replayLimit: Int) {
        self.name = name
        self.terminal = terminal
        self.replayLimit = replayLimit
        self.appliedSize = (rows, cols)
    }

    /// Starts reading output and watching for the program's exit; `onEnd` runs once it has ended.
    func start(onEnd: @escaping @Sendable () async -> Void) {
        self.onEnd = onEnd
        Task { await self.read() }
        Task { await self.watchExit() }
    }

    var clientCount: Int { clients.count }
    var size: (rows: Int, cols: Int) { appliedSize }

    // MARK: Output

    private func read() async {
        do {
            try await terminal.channel.executeThenClose { inbound, outbound in
                self.setWriter(outbound)
                for try await chunk in inbound { await self.deliver(chunk) }
            }
        } catch {
            // EIO once the program's side of the PTY is closed: the end of the output.
        }
        readerDone = true
        for waiter in readerWaiters { waiter.resume() }
        readerWaiters = []
    }

    private func setWriter(_ writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) { self.writer = writer }

    private func deliver(_ chunk: ByteBuffer) async {
        let text = decode(chunk)
        guard !text.isEmpty else { return }
        remember(text)
        for (id, client) in clients {
            do {
                try await client.deliver(text)
            } catch {
                clients[id] = nil
            }
        }
    }

    /// Output as text, never splitting a UTF-8 sequence: an incomplete sequence at the end waits for the
    /// next read. Invalid bytes become U+FFFD.
    func decode(_ chunk: ByteBuffer) -> String {
        var bytes = carry + Array(chunk.readableBytesView)
        carry = Self.incompleteSuffix(bytes)
        bytes.removeLast(carry.count)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The trailing bytes that begin a UTF-8 sequence the chunk does not complete.
    static func incompleteSuffix(_ bytes: [UInt8]) -> [UInt8] {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0, continuation < 3, bytes[index] & 0xC0 == 0x80 {
            index -= 1
            continuation += 1
        }
        guard index >= 0 else { return [] }
        let lead = bytes[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > 1 && continuation + 1 < length ? Array(bytes[index...]) : []
    }

    private func remember(_ text: String) {
        guard replayLimit > 0 else { return }
        replay.append(contentsOf: text.utf8)
        if replay.count > replayLimit {
            var start = replay.count - replayLimit
            while start < replay.count, replay[start] & 0xC0 == 0x80 { start += 1 }
            replay.removeFirst(start)
        }
    }

    // MARK: Clients

    /// Attaches a client; returns its id and the output to replay to it.
    func attach(_ client: Client) -> (id: Int, replay: String) {
        nextClient += 1
        clients[nextClient] = client
        applySize()
        return (nextClient, String(decoding: replay, as: UTF8.self))
    }

    func detach(_ id: Int) {
        clients[id] = nil
        applySize()
    }

    func setSize(_ id: Int, rows: Int, cols: Int) {
        clients[id]?.size = (rows, cols)
        applySize()
    }

    func setReadOnly(_ id: Int, _ readOnly: Bool) {
        clients[id]?.readOnly = readOnly
        applySize()
    }

    /// The smallest size among the clients that may type (or among all, if none may).
    private func applySize() {
        let writers = clients.values.filter { !$0.readOnly }
        let sizing = writers.isEmpty ? Array(clients.values) : writers
        guard let rows = sizing.map(\.size.rows).min(), let cols = sizing.map(\.size.cols).min() else { return }
        guard rows != appliedSize.rows || cols != appliedSize.cols else { return }
        appliedSize = (rows, cols)
        terminal.resize(rows: rows, cols: cols)
    }

    // MARK: Input

    /// Writes input to the program; waits while the PTY takes no more.
    func write(_ bytes: ByteBuffer) async throws {
        guard exit == nil, let writer else {
            throw PtySessionError.ended
        }
        try await writer.write(bytes)
    }

    // MARK: Ending

    private func watchExit() async {
        let exit = await terminal.exit
        // Let the last output through before saying so.
        await waitForReader(upTo: .milliseconds(300))
        self.exit = exit
        _ = await terminal.terminate(grace: .milliseconds(200))
        for client in clients.values { await client.exited(exit) }
        clients = [:]
        await onEnd?()
    }

    private func waitForReader(upTo timeout: Duration) async {
        if readerDone { return }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.releaseReaderWaiters()
        }
        await withCheckedContinuation { readerWaiters.append($0) }
        timer.cancel()
    }

    private func releaseReaderWaiters() {
        for waiter in readerWaiters { waiter.resume() }
        readerWaiters = []
    }

    /// Ends the program and its jobs: SIGHUP, then SIGKILL after `grace`.
    func kill(grace: Duration = .seconds(1)) async {
        _ = await terminal.terminate(grace: grace)
    }
}

enum PtySessionError: Error {
    case ended
}
