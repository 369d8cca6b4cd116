import Switchboard
import SwitchboardTesting
import Synchronization
import Testing

/// Holds whoever waits until it is opened; unlike a `Mailbox`, cancelling the waiter does not let it through.
final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { waiter in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(waiter) }
                return state.isOpen
            }
            if isOpen { waiter.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A terminal whose `open` waits until the test lets it go, and that writes down when `open` and `close` run.
actor SlowOpener: TextInputTerminal {
    static var resourceName: String { "Tests.SlowOpener" }
    let journal: Mailbox<String>
    let gate: Gate

    init(journal: Mailbox<String>, gate: Gate) {
        self.journal = journal
        self.gate = gate
    }

    func open(_ connection: TerminalConnection) async throws {
        journal.deliver("open started")
        await gate.wait()
        journal.deliver("open returned")
    }

    func receive(text: String, from connection: TerminalConnection) async throws {}

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        journal.deliver("close \(reason)")
    }
}

@Suite(.timeLimit(.minutes(1)))
struct TerminalLifecycleTests {
    /// A client that leaves while the terminal it is entering runs its `open`: `close` comes after `open`, not
    /// in the middle of it (the terminal's actor would otherwise run `close` at one of `open`'s awaits, and
    /// `open` would go on to set up what `close` was to end: a PTY program with a client that is gone).
    ///
    /// The Shell enters the terminal from a handler; once that handler has run for 10 ms another task reads
    /// the input, sees it end, and ends the connection while `open` still waits.
    @Test func aTerminalIsClosedOnlyAfterItsOpenHasReturned() async throws {
        let journal = Mailbox<String>()
        let gate = Gate()
        // The connection's end waits this long for the terminal's close, then goes on without it.
        let api = SwitchboardAPI(configuration: .init(disposeTimeout: .milliseconds(100)))
        api.register { SlowOpener(journal: journal, gate: gate) }
        let client = TestConnection.open(api, uri: "/")
        _ = try await client.receiveText()
        await client.send("GET /slowopener")
        #expect(await journal.receive() == "open started")
        // Returns once the server has finished with the connection: its close has been asked for by then.
        await client.close()
        journal.deliver("client gone")
        gate.open()
        #expect(await journal.receive() == "client gone")
        #expect(await journal.receive() == "open returned")
        #expect(await journal.receive() == "close disconnected")
    }

    /// Cancelling the task that serves a connection (`SwitchboardAPI.serve`) finishes the connection as the
    /// client's leaving would: its terminal is closed and `serve` returns. The wait for a connection's end has
    /// no cancellation handler of its own (every idle connection's task would keep its frames); `serve` ends
    /// it on cancellation. Without that, this test waits until its time limit.
    @Test func cancellingTheServingTaskFinishesTheConnection() async throws {
        struct Quiet: TerminalTransport {
            func send(_ message: TerminalMessage) async throws {}
            func close(code: CloseCode, reason: String) async throws {}
        }
        let journal = Mailbox<String>()
        let gate = Gate()
        gate.open()
        let api = SwitchboardAPI()
        api.register { SlowOpener(journal: journal, gate: gate) }
        // An input that never ends: the client stays.
        let (inbound, input) = AsyncStream.makeStream(of: TerminalMessage.self)
        defer { input.finish() }
        let request = ConnectionRequest(
            path: "/slowopener", query: nil, headers: HTTPFields(), host: "localhost", clientIP: "127.0.0.1", isEncrypted: false)
        let served = Task { try await api.serve(request, inbound: inbound, transport: Quiet()) }
        #expect(await journal.receive() == "open started")
        #expect(await journal.receive() == "open returned")
        #expect(api.connectionCount == 1)
        served.cancel()
        try await served.value
        #expect(await journal.receive() == "close disconnected")
        #expect(api.connectionCount == 0)
    }
}
