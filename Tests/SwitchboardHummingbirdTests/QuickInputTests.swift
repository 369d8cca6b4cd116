import Foundation
import NIOCore
import NIOPosix
import Switchboard
import SwitchboardCore
import Testing

@testable import SwitchboardTestSupport

/// Where a connection's input is handled: a quick terminal's (``QuickInputTerminal``, as PTY terminals are)
/// on the connection's event loop once its reader has parked, so that a keystroke wakes no other thread; any
/// other terminal's, a global command, and a large message on the concurrency pool, never on a thread that
/// serves other connections. Real server, raw TCP client.
@Suite struct QuickInputTests {
    /// Answers every message, and every change of its property (`#TERMINAL {"Mark": 1}`, a global command),
    /// with where its handler ran: `loop` on an event loop, `pool` elsewhere.
    actor QuickReporter: TextInputTerminal, PropertyCheckingTerminal, QuickInputTerminal {
        static let resourceName = "Tests.QuickReporter"
        @Property var mark = 0
        private var hang: CheckedContinuation<Void, Never>?
        func receive(text: String, from connection: TerminalConnection) async throws {
            // `hang` waits until the terminal is closed, as a PTY's write waits for a program that reads nothing.
            if text == "hang" { return await withCheckedContinuation { hang = $0 } }
            try await connection.send(MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop")
        }
        func propertiesDidChange(_ changes: PropertyChanges, on connection: TerminalConnection) async throws {
            try await connection.send(MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop")
        }
        func open(_ connection: TerminalConnection) async throws {}
        func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
            hang?.resume()
            hang = nil
        }
    }

    /// The same, but not a quick terminal.
    actor Reporter: TextInputTerminal {
        static let resourceName = "Tests.Reporter"
        func receive(text: String, from connection: TerminalConnection) async throws {
            try await connection.send(MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop")
        }
        func open(_ connection: TerminalConnection) async throws {}
        func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
    }

    static func withServer(_ body: (TestServer) async throws -> Void) async throws {
        try await TestServer.with(
            configure: { api in
                api.register { QuickReporter() }
                api.register { Reporter() }
            }, body)
    }

    /// A client on a raw socket that sends frames in one write and reads the server's text frames.
    struct Client {
        let socket: RawSocket

        init(port: Int, path: String) async throws {
            socket = try RawSocket(port: port)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            try await socket.upgrade(path: path)
        }

        /// Sends the texts as frames in one write, so that they reach the server together.
        func send(_ texts: [String]) throws {
            try socket.write(texts.flatMap { RawSocket.maskedFrame(opcode: 0x1, payload: Array($0.utf8)) })
        }

        /// The next text frame that is `loop` or `pool`, skipping the others (the Shell's).
        func nextPlace() async throws -> String {
            try await nextText { $0 == "loop" || $0 == "pool" }
        }

        /// Where each of `count` messages was handled, sent one at a time.
        func places(asking count: Int) async throws -> [String] {
            var places: [String] = []
            for _ in 0..<count {
                try send(["which"])
                places.append(try await nextPlace())
            }
            return places
        }

        /// The next text frame that `accept` takes, skipping the others.
        func nextText(_ accept: @escaping @Sendable (String) -> Bool) async throws -> String {
            let socket = self.socket
            return try await onOwnThread {
                while true {
                    let head = try socket.read(count: 2)
                    guard head.count == 2 else { throw TestFailure("the connection ended") }
                    var length = Int(head[1] & 0x7F)
                    if length == 126 {
                        length = try socket.read(count: 2).reduce(0) { $0 << 8 | Int($1) }
                    } else if length == 127 {
                        length = try socket.read(count: 8).reduce(0) { $0 << 8 | Int($1) }
                    }
                    let payload = try socket.read(count: length)
                    guard payload.count == length else { throw TestFailure("the connection ended") }
                    let text = String(decoding: payload, as: UTF8.self)
                    if head[0] & 0x0F == 0x1, accept(text) { return text }
                }
            }
        }

        /// Sends `which` one message at a time until a handler runs on the event loop (the first message is
        /// read by the task that attached the terminal, on the pool; the reader then parks, and the next
        /// message resumes it); returns how many were sent, or `nil` if none ran there.
        func untilOnTheLoop(tries: Int = 5) async throws -> Int? {
            for attempt in 1...tries {
                try send(["which"])
                if try await nextPlace() == "loop" { return attempt }
            }
            return nil
        }
    }

    @Test func aQuickTerminalsInputIsHandledOnTheEventLoopOnceTheReaderHasParked() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            let attempts = try await client.untilOnTheLoop()
            #expect(attempts != nil, "no message was handled on the connection's event loop")
            // From then on every message that finds the reader parked is.
            #expect(try await client.places(asking: 5) == Array(repeating: "loop", count: 5))
        }
    }

    @Test func anyOtherTerminalsInputIsHandledOnThePool() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.reporter")
            #expect(try await client.places(asking: 6) == Array(repeating: "pool", count: 6))
        }
    }

    @Test func aLargeMessageToAQuickTerminalIsHandledOnThePool() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await client.untilOnTheLoop() != nil)
            try client.send([String(repeating: "x", count: 16 << 10)])
            #expect(try await client.nextPlace() == "loop", "16 KiB is still quick")
            try client.send([String(repeating: "x", count: (16 << 10) + 1)])
            #expect(try await client.nextPlace() == "pool", "a larger paste is not")
            try client.send(["which"])
            #expect(try await client.nextPlace() == "loop")
        }
    }

    @Test func aGlobalCommandIsRunOnThePool() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await client.untilOnTheLoop() != nil)
            try client.send([#"#TERMINAL {"Mark": 1}"#])
            #expect(try await client.nextPlace() == "pool")
            try client.send(["which"])
            #expect(try await client.nextPlace() == "loop", "the reader is back on the event loop")
        }
    }

    /// A handler on the event loop that waits (a PTY that takes no more input) holds no thread, and the reading
    /// is handed over once input arrives behind it: a global command is still answered. The reader watches
    /// such a handler only when input arrives, so a keystroke that returns at once costs no timer.
    @Test func aWaitingHandlerOnTheEventLoopHandsTheReadingOverWhenInputArrives() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await client.untilOnTheLoop() != nil)
            try client.send(["hang"])
            try client.send(["#INFO"])
            let profile = try await client.nextText { $0.hasPrefix("{") }
            #expect(profile.contains("\"CurrentTerminal\""), "the profile: \(profile)")
            // And the next global command, while the handler still waits.
            try client.send([#"#TERMINAL {"Mark": 2}"#])
            #expect(try await client.nextText { $0.hasPrefix("{") }.contains("Mark"))

            // Input that came with the handler's message, queued before the handler ran, is watched at once.
            let second = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await second.untilOnTheLoop() != nil)
            try second.send(["hang", "#INFO"])
            #expect(try await second.nextText { $0.hasPrefix("{") }.contains("\"CurrentTerminal\""))
        }
    }

    /// A reader on the event loop that meets a switch to another terminal in the same read: the global
    /// command, the Shell's commands and the other terminal's input all go to the pool.
    @Test func inputAfterASwitchInTheSameReadIsHandledOnThePool() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await client.untilOnTheLoop() != nil)
            try client.send(["#HOME", "/tests.reporter", "GET", "which"])
            #expect(try await client.nextPlace() == "pool")
            try client.send(["which"])
            #expect(try await client.nextPlace() == "pool")
        }
    }
}
