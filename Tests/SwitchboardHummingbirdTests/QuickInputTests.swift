import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket
import Switchboard
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardHummingbird
@testable import SwitchboardTestSupport

/// Where a connection's input is handled: a quick terminal's (``QuickInputTerminal``, as PTY terminals are)
/// on the connection's event loop once its reader has parked, so that a keystroke wakes no other thread; any
/// other terminal's, a global command, and a large message on the concurrency pool, never on a thread that
/// serves other connections. Real server, raw TCP client.
@Suite struct QuickInputTests {
    /// Answers every message, and every change of its property (`#TERMINAL {"Mark": 1}`, a global command),
    /// with where its handler ran: `loop` on an event loop, `pool` elsewhere; a message other than `which`
    /// also with its length and the sum of its bytes (`loop 30 2910`).
    actor QuickReporter: TextInputTerminal, PropertyCheckingTerminal, QuickInputTerminal {
        static let resourceName = "Tests.QuickReporter"
        @Property var mark = 0
        private var hang: CheckedContinuation<Void, Never>?
        func receive(text: String, from connection: TerminalConnection) async throws {
            // `hang` waits until the terminal is closed, as a PTY's write waits for a program that reads nothing.
            if text == "hang" { return await withCheckedContinuation { hang = $0 } }
            let place = MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop"
            try await connection.send(text == "which" ? place : "\(place) \(Self.summary(of: text))")
        }
        /// A text's length and the sum of its bytes.
        static func summary(of text: String) -> String {
            "\(text.utf8.count) \(text.utf8.reduce(0) { $0 + Int($1) })"
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

        init(port: Int, path: String, extensions: [String] = []) async throws {
            socket = try RawSocket(port: port)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            try await socket.upgrade(path: path, extensions: extensions)
        }

        /// Sends the texts as frames in one write, so that they reach the server together.
        func send(_ texts: [String]) throws {
            try socket.write(texts.flatMap { RawSocket.maskedFrame(opcode: 0x1, payload: Array($0.utf8)) })
        }

        /// The next answer of a reporter (`loop` or `pool`, maybe with a summary), skipping the others (the
        /// Shell's).
        func nextPlace() async throws -> String {
            try await nextText { $0.hasPrefix("loop") || $0.hasPrefix("pool") }
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
                    if head[0] & 0x0F == 0x8 { throw TestFailure("closed: \(RawSocket.closeCode(in: head + payload) ?? 0) \(text.dropFirst(2))") }
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
            let quick = String(repeating: "x", count: 16 << 10)
            try client.send([quick])
            #expect(try await client.nextPlace() == "loop \(QuickReporter.summary(of: quick))", "16 KiB is still quick")
            try client.send([quick + "x"])
            #expect(try await client.nextPlace() == "pool \(QuickReporter.summary(of: quick + "x"))", "a larger paste is not")
            // The task that read on the pool goes back to the loop at its next wait, or when it parks.
            #expect(try await client.untilOnTheLoop() != nil, "the reader comes back to the event loop")
        }
    }

    @Test func aGlobalCommandIsRunOnThePool() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter")
            #expect(try await client.untilOnTheLoop() != nil)
            try client.send([#"#TERMINAL {"Mark": 1}"#])
            #expect(try await client.nextPlace() == "pool")
            // The task that read on the pool goes back to the loop at its next wait, or when it parks.
            #expect(try await client.untilOnTheLoop() != nil, "the reader comes back to the event loop")
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

    /// Which messages a reader on the event loop reads there (``InboundMessages/Frames/isReadOnTheEventLoop(_:)``):
    /// one whole frame of text or binary of at most 16 KiB, or, compressed, if it inflates to no more; a
    /// paste in fragments, a larger frame and anything out of turn are read on the pool.
    @Test func onlyOneSmallWholeFrameIsReadOnTheEventLoop() {
        func frame(fin: Bool = true, rsv1: Bool = false, _ opcode: WebSocketOpcode = .text, bytes: Int = 4) -> WebSocketFrame {
            WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, data: ByteBuffer(repeating: 0x61, count: bytes))
        }
        let rule = InboundMessages.Frames.isReadOnTheEventLoop
        #expect(rule(frame()) == true)
        #expect(rule(frame(.binary)) == true)
        #expect(rule(frame(bytes: 16 << 10)) == true)
        #expect(rule(frame(bytes: (16 << 10) + 1)) == false, "over 16 KiB")
        #expect(rule(frame(fin: false)) == false, "a first fragment")
        #expect(rule(frame(.continuation)) == false, "a continuation")
        #expect(rule(frame(rsv1: true)) == nil, "compressed: inflated there up to 16 KiB")
        #expect(rule(frame(rsv1: true, bytes: 16 << 10)) == nil)
        #expect(rule(frame(rsv1: true, bytes: (16 << 10) + 1)) == false, "compressed, over 16 KiB")
        #expect(rule(frame(fin: false, rsv1: true)) == false, "a compressed first fragment")
        #expect(rule(WebSocketFrame(fin: true, rsv2: true, opcode: .text, data: ByteBuffer(string: "a"))) == false, "a reserved bit")
    }

    /// A compressed message inflated on the event loop only up to a size: past it, the receiver is as it was
    /// before, and inflates the same frame whole (on the pool); the next message is inflated as usual.
    @Test func aCompressedMessagePastTheSizeIsInflatedAgainWhole() async throws {
        let receiver = DeflateReceiver(maxInflatedFrameSize: 1 << 20)
        func compressed(_ text: String) throws -> WebSocketFrame {
            let deflater = try #require(Deflater(level: 6, windowBits: 15))
            let stream = try #require(deflater.compress(ByteBuffer(string: text), allocator: ByteBufferAllocator()))
            return WebSocketFrame(fin: true, rsv1: true, opcode: .text, data: ByteBuffer(bytes: stream.readableBytesView.dropLast(4)))
        }
        let large = String(repeating: "a paste of some length, ", count: 1_000)
        await #expect(throws: DeflateReceiver.InflatesPastSize.self) {
            _ = try await receiver.inflateIfCompressed(compressed(large), atMost: 16 << 10)
        }
        #expect(try await receiver.inflateIfCompressed(compressed(large)).data == ByteBuffer(string: large))
        #expect(try await receiver.inflateIfCompressed(compressed("which"), atMost: 16 << 10).data == ByteBuffer(string: "which"))
        let exact = String(repeating: "x", count: 16 << 10)
        #expect(try await receiver.inflateIfCompressed(compressed(exact), atMost: 16 << 10).data == ByteBuffer(string: exact))
    }

    /// Input to a quick terminal whose reader is on the event loop, in every shape a client may send it:
    /// compressed keystrokes (as a browser sends them) are handled there; a compressed message that inflates
    /// past 16 KiB, one compressed to more than 16 KiB, and messages in fragments arrive whole, each read on
    /// the pool (``InboundMessages/messagesReadOffTheEventLoop``; other tests' connections may add to it, never
    /// take from it).
    @Test func compressedAndFragmentedInputToAQuickTerminalArrivesWhole() async throws {
        try await Self.withServer { server in
            let client = try await Client(port: server.port, path: "/api/tests.quickreporter", extensions: ["permessage-deflate"])
            func compressed(_ text: String) throws -> [UInt8] {
                // A deflater of its own: each message is a stream of its own (`client_no_context_takeover`).
                let deflater = try #require(Deflater(level: 6, windowBits: 15))
                let stream = try #require(deflater.compress(ByteBuffer(string: text), allocator: ByteBufferAllocator()))
                return Array(stream.readableBytesView.dropLast(4))
            }
            func sendCompressed(_ text: String) throws {
                try client.socket.write(RawSocket.maskedFrame(opcode: 0x41, payload: try compressed(text)))
            }
            #expect(try await client.untilOnTheLoop() != nil)
            var readOnThePool = InboundMessages.messagesReadOffTheEventLoop.load(ordering: .relaxed)
            /// Whether at least one more message was read on the pool since the last call.
            func oneMoreReadOnThePool() -> Bool {
                let now = InboundMessages.messagesReadOffTheEventLoop.load(ordering: .relaxed)
                defer { readOnThePool = now }
                return now > readOnThePool
            }
            // A browser's keystroke, compressed on its own (`client_no_context_takeover`): 30 bytes here, which
            // could inflate to 30 KiB, but inflates to 31 bytes on the loop.
            let keystroke = #"["stdin", "which way, which?"]"#
            try sendCompressed(keystroke)
            #expect(try await client.nextPlace() == "loop \(QuickReporter.summary(of: keystroke))")
            let exact = String(repeating: "x", count: 16 << 10)
            try sendCompressed(exact)
            #expect(try await client.nextPlace() == "loop \(QuickReporter.summary(of: exact))")
            // Inflates past 16 KiB: inflated again on the pool, and handled there.
            let paste = String(repeating: "a paste of some length, ", count: 1_000)
            try sendCompressed(paste)
            #expect(try await client.nextPlace() == "pool \(QuickReporter.summary(of: paste))")
            #expect(oneMoreReadOnThePool(), "inflated again on the pool")
            // Compressed to more than 16 KiB (once the reader is back on the loop: it went on on the pool).
            #expect(try await client.untilOnTheLoop() != nil)
            _ = oneMoreReadOnThePool()
            var generator = SystemRandomNumberGenerator()
            let noise = String((0..<30_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &generator))) })
            #expect(try compressed(noise).count > 16 << 10)
            try sendCompressed(noise)
            #expect(try await client.nextPlace() == "pool \(QuickReporter.summary(of: noise))")
            #expect(oneMoreReadOnThePool(), "inflated on the pool")
            // In fragments: plain, then compressed.
            #expect(try await client.untilOnTheLoop() != nil)
            _ = oneMoreReadOnThePool()
            let parts = ["one ", "two ", "three"]
            try client.socket.write(
                RawSocket.maskedFrame(opcode: 0x1, payload: Array(parts[0].utf8), fin: false)
                    + RawSocket.maskedFrame(opcode: 0x0, payload: Array(parts[1].utf8), fin: false)
                    + RawSocket.maskedFrame(opcode: 0x0, payload: Array(parts[2].utf8)))
            // (Joined on the pool; handled where the reader's task goes back to, the event loop.)
            #expect(try await client.nextPlace().hasSuffix(" \(QuickReporter.summary(of: parts.joined()))"))
            #expect(oneMoreReadOnThePool(), "joined on the pool")
            let stream = try compressed(paste)
            try client.socket.write(
                RawSocket.maskedFrame(opcode: 0x41, payload: Array(stream[..<10]), fin: false)
                    + RawSocket.maskedFrame(opcode: 0x0, payload: Array(stream[10...])))
            #expect(try await client.nextPlace() == "pool \(QuickReporter.summary(of: paste))")
            // The task that read on the pool goes back to the loop at its next wait, or when it parks.
            #expect(try await client.untilOnTheLoop() != nil, "the reader comes back to the event loop")
        }
    }
}
