import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Switchboard
import SwitchboardHummingbird
import SwitchboardPTY
import Testing

@testable import SwitchboardTestSupport

/// Real programs in real PTYs, through a real server and a real WebSocket client.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct PTYTests {
    /// A server with the Shell and PTY terminals running `bash --norc --noprofile`.
    static func withServer(
        sharing: PTYManager.Sharing = .perConnection, maxTerminals: Int = 32, authenticator: any Authenticator = AllowAllAuthenticator(),
        idleTimeout: Duration? = .seconds(3600), inheritedVariables: [String] = [], audit: Logger = TestServer.defaultLogger,
        recordings: SessionRecordings? = nil, configuration: SwitchboardServerConfiguration = .init(),
        routes: (SwitchboardServer) -> Void = { _ in }, _ body: (TestServer, PTYManager) async throws -> Void
    ) async throws {
        let manager = PTYManager(
            configuration: .init(
                program: PTYProgram(
                    "bash", arguments: ["--norc", "--noprofile"], environment: ["PS1": "$ "], inheritedVariables: inheritedVariables),
                sharing: sharing, maxTerminals: maxTerminals, terminationGrace: .milliseconds(500), idleTimeout: idleTimeout),
            audit: audit, recordings: recordings)
        try await TestServer.with(
            configuration: configuration, authenticator: authenticator, configure: { manager.register(in: $0) }, routes: routes
        ) { server in
            try await body(server, manager)
            await manager.shutdown()
        }
    }

    /// Reads messages until their text contains `marker`; returns all of it.
    static func read(_ client: WebSocketTestClient, until marker: String) async throws -> String {
        try await client.read(until: marker)
    }

    static func part(_ message: TerminalMessage) -> String {
        if case .text(let text) = message { return text }
        return "<binary>"
    }

    /// The terminado `stdout` text of messages until it contains `marker`.
    static func readTerminado(_ client: WebSocketTestClient, until marker: String) async throws -> (text: String, messages: [JSON]) {
        var text = ""
        var messages: [JSON] = []
        while !text.contains(marker) {
            guard case .text(let part)? = await client.receive() else { throw TestFailure("closed; got \(text.debugDescription)") }
            let message = try JSON(parsing: part)
            messages.append(message)
            if case .array(let items) = message, items.first == "stdout", case .string(let output)? = items.last { text += output }
        }
        return (text, messages)
    }

    @Test func jobControlResizeAndExitBackToTheShell() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/rows=30&cols=100")
            client.send("stty size; echo D$((40+2))ONE")
            let size = try await Self.read(client, until: "D42ONE")
            #expect(size.contains("30 100"))
            // Ctrl-C interrupts the foreground job: $? is 130.
            // The job says it runs (and is then the same process), so the keystroke cannot come too early.
            client.send("sh -c 'echo D$((2+3))READY; exec sleep 30'")
            _ = try await Self.read(client, until: "D5READY")
            client.send("\u{3}")
            client.send("echo status=$((0+$?))")
            _ = try await Self.read(client, until: "status=130")
            // Ctrl-Z suspends it, and job control sees it.
            client.send("sh -c 'echo D$((3+3))READY; exec sleep 31'")
            _ = try await Self.read(client, until: "D6READY")
            client.send("\u{1A}")
            _ = try await Self.read(client, until: "Stopped")
            client.send("kill %1; echo D$((1+1))KILLED")
            _ = try await Self.read(client, until: "D2KILLED")
            // Resize through #TERMINAL; the program sees the new size.
            client.send(#"#TERMINAL {"Rows": 40, "Cols": 132}"#)
            _ = try await Self.read(client, until: "Terminal updated")
            client.send("stty size; echo D$((3+4))SIZE")
            #expect(try await Self.read(client, until: "D7SIZE").contains("40 132"))
            client.send(#"#TERMINAL {"Rows": 0}"#)
            _ = try await Self.read(client, until: "400: Bad request. Invalid size 0x132: rows and columns must be between 1 and 1000")
            client.send("#TERMINAL")
            let properties = try await Self.read(client, until: "\"ExitStatus\"")
            #expect(properties.contains("\"Rows\": 40"))
            #expect(properties.contains("\"Pid\": "))
            // The program's exit: a status line, then the Shell.
            client.send("exit 7")
            let end = try await Self.read(client, until: "? <no query>")
            #expect(end.contains("200: OK. The program 'bash' exited with status 7"))
            #expect(end.contains(shellBanner))
            try await client.close()
        }
    }

    /// A line client gets the output as lines: each line one message, without its line break, escape
    /// sequences or other controls, a tab as spaces, the prompt as a message of its own once the output
    /// pauses, and a notice as a line of its own. `output=terminal` gives the output as a terminal gets it,
    /// and the form cannot change once the terminal is open.
    @Test func aLineClientGetsTheOutputAsLines() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/name=lines&cols=200")
            #expect(try await client.receiveText().hasPrefix("[switchboard: line mode. Each message is a line."))
            client.send(#"PS1='$((6*7))> '"#)
            var messages: [String] = []
            while messages.last != "42> " { messages.append(try await client.receiveText()) }
            client.send(#"printf 'a\033[31mred\033[0m\tb\r\n'; printf '10%%\r20%%\n\n'; printf 'x\by\n'; echo D$((2+3))ONE"#)
            messages = []
            while messages.last != "42> " { messages.append(try await client.receiveText()) }
            #expect(
                messages == [
                    #"printf 'a\033[31mred\033[0m\tb\r\n'; printf '10%%\r20%%\n\n'; printf 'x\by\n'; echo D$((2+3))ONE"#, "ared    b", "10%", "20%", "", "y",
                    "D5ONE", "42> ",
                ])
            // Another client attaching: the notice is a line of its own.
            let other = try await WebSocketTestClient.connect(server.base + "/api/pty/name=lines&output=terminal")
            let joined = try await client.receiveText()
            #expect(joined.hasPrefix("[switchboard: ") && joined.hasSuffix(" (127.0.0.1) joined]"), "\(joined)")
            other.send(#"printf "\033[1mB$((1+1))\033[0m\n""#)
            #expect(try await Self.read(other, until: "\u{1B}[1mB2\u{1B}[0m\r\n").contains("\u{1B}[?2004"), "as a terminal gets it")
            try await other.close()
            client.send(#"#TERMINAL {"Output": "terminal"}"#)
            #expect(
                try await Self.read(client, until: "(see").contains(
                    "400: Bad request. Output is chosen when the terminal opens; open /pty/output=terminal for the other form"))
            client.send("#TERMINAL")
            #expect(try await Self.read(client, until: "\"ExitStatus\"").contains(#""Output": "lines""#))
            client.send("exit")
            _ = try await Self.read(client, until: "? <no query>")
            try await client.close()
            let terminado = try await WebSocketTestClient.connect(server.base + "/api/pty/mode=terminado&output=lines")
            #expect(
                try await terminado.receiveText()
                    == "400: Bad request. Output=lines is for raw mode; a terminado client is a terminal and gets the output as it is")
            #expect(try await terminado.closeFrame()?.code == 4400)
        }
    }

    @Test func terminadoProtocol() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/mode=terminado")
            #expect(try await client.receiveText() == #"["setup",{}]"#)
            client.send(#"["set_size", 33, 77, 800, 600]"#)
            client.send(#"["stdin", "stty size; echo D$((2+2))X\r"]"#)
            let (text, _) = try await Self.readTerminado(client, until: "D4X")
            #expect(text.contains("33 77"))
            // The shell may still be drawing its prompt: skip output until the answer.
            func answer() async throws -> String {
                while true {
                    let text = try await client.receiveText()
                    if !text.hasPrefix(#"["stdout","#) { return text }
                }
            }
            client.send("not json")
            #expect(try await answer().hasPrefix(#"["error","400: Bad request. JSON syntax error"#))
            client.send(#"["set_size", "a", "b"]"#)
            #expect(try await answer() == #"["error","400: Bad request. set_size takes rows and columns: [\"set_size\", 24, 80]"]"#)
            client.send(#"["set_size", 0, 0]"#)
            #expect(try await answer() == #"["error","400: Bad request. Invalid size 0x0: rows and columns must be between 1 and 1000"]"#)
            client.send(#"["resize", 1]"#)
            #expect(try await answer() == #"["error","400: Bad request. Unknown terminado message 'resize'; the messages are stdin and set_size"]"#)
            client.send(#"["stdin", "exit 3\r"]"#)
            // terminado to the end: the last message is ["disconnect",1], then the close carries the status.
            var last = ""
            while case .text(let text)? = await client.receive() { last = text }
            #expect(last == #"["disconnect",1]"#)
            let close = try await client.closeFrame()
            #expect(close?.code == 1000)
            #expect(close?.reason == "The program 'bash' exited with status 3")
        }
    }

    /// What a program writes before its client is attached (its first prompt) reaches the client: a
    /// connection's own program keeps its output until then, though it replays nothing to anyone later.
    @Test func outputWrittenBeforeTheClientIsAttachedIsNotLost() async throws {
        let manager = PTYManager(
            configuration: .init(program: PTYProgram("/bin/sh", arguments: ["-c", "echo EARLY$((20+22)); sleep 5"]), terminationGrace: .milliseconds(200)))
        try await TestServer.with(configure: { manager.register(in: $0) }) { server in
            for _ in 0..<10 {
                let client = try await WebSocketTestClient.connect(server.base + "/api/pty/input=keys")
                _ = try await Self.read(client, until: "EARLY42")
                _ = try await client.close()
            }
            await manager.shutdown()
        }
    }

    /// A burst of output, which piles up behind the socket and leaves in gathered messages, arrives whole, in
    /// order and as valid text, and so does output written in bulk; the protocol is fixed once the terminal
    /// is open.
    @Test func aBurstArrivesWholeAndInOrderAndTheModeStaysAsOpened() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/input=keys")
            client.send("stty raw -echo; echo R$((1+1))DY\r")
            _ = try await Self.read(client, until: "R2DY")
            // 20,000 numbered lines with a two-byte character each: any loss, reordering or split character shows.
            client.send("i=0; while [ $i -lt 20000 ]; do echo \"é$i\"; i=$((i+1)); done; echo E$((2+2))ND\r")
            let text = try await Self.read(client, until: "E4ND")
            let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).filter { $0.hasPrefix("é") }
            #expect(lines.count == 20_000)
            #expect(lines.enumerated().allSatisfy { $0.element == "é\($0.offset)" }, "every line, in order")
            #expect(!text.contains("\u{FFFD}"), "no character was split between messages")
            // Output written in bulk, which the server reads in full pieces and joins: every byte, once.
            client.send("head -c 3000000 /dev/zero | tr '\\0' a; echo; echo B$((5+5))ULK\r")
            let bulk = try await Self.read(client, until: "B10ULK")
            var run = 0
            var longestRun = 0
            for byte in bulk.utf8 {
                run = byte == UInt8(ascii: "a") ? run + 1 : 0
                longestRun = max(longestRun, run)
            }
            #expect(longestRun == 3_000_000, "one unbroken run of the 3,000,000 bytes")
            client.send(#"#TERMINAL {"Mode": "terminado"}"#)
            // The shell's prompt may still be on its way: skip output until the status line.
            var refusal = try await client.receiveText()
            while !refusal.hasPrefix("400:") { refusal = try await client.receiveText() }
            #expect(refusal.hasPrefix("400: Bad request. Mode is chosen when the terminal opens"), "\(refusal)")
            client.send("echo S$((3+3))TILL-RAW\r")
            _ = try await Self.read(client, until: "S6TILL-RAW")
        }
    }

    @Test func aBadSizeInTheURIRefusesTheConnectionLikeOtherBadValues() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty/rows=0")
            #expect(try await client.receiveText() == "400: Bad request. Invalid size 0x80: rows and columns must be between 1 and 1000")
            #expect(try await client.closeFrame()?.code == 4400)
        }
    }

    @Test func aSplitMultiByteCharacterArrivesWhole() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty")
            // printf writes the first two bytes of "€" (E2 82 AC), pauses, then the last.
            client.send(#"printf 'A\342\202'; sleep 0.3; printf '\254B'; echo; echo D$((5+5))E"#)
            let text = try await Self.read(client, until: "D10E")
            #expect(text.contains("A€B"))
            #expect(!text.contains("\u{FFFD}"))
            try await client.close()
        }
    }

    @Test func namedTerminalsAreSharedReplayedAndSizedToTheSmallest() async throws {
        try await Self.withServer { server, manager in
            let first = try await WebSocketTestClient.connect(server.base + "/api/pty/name=work&rows=30&cols=100")
            first.send("echo D$((7*6))REPLAYED")
            _ = try await Self.read(first, until: "D42REPLAYED")
            let second = try await WebSocketTestClient.connect(server.base + "/api/pty/name=work&rows=20&cols=120")
            #expect(try await Self.read(second, until: "D42REPLAYED").contains("D42REPLAYED"), "recent output is replayed")
            second.send("stty size; echo D$((1+2))SIZE")
            let both = try await Self.read(first, until: "D3SIZE")
            #expect(both.contains("20 100"), "the smallest rows and the smallest columns")
            _ = try await Self.read(second, until: "D3SIZE")
            // A read-only viewer sees output, cannot type, and does not shrink the terminal.
            let viewer = try await WebSocketTestClient.connect(server.base + "/api/pty/name=work&readonly=true&rows=5&cols=5")
            _ = try await Self.read(viewer, until: "D3SIZE")
            let refusal = "403: Forbidden. This terminal is read-only: it shows output and takes no input"
            viewer.send("echo typed-by-viewer")
            #expect(try await Self.read(viewer, until: refusal).contains(refusal))
            viewer.send(ByteBuffer(string: "x"))
            #expect(try await Self.read(viewer, until: refusal).contains(refusal))
            first.send("stty size; echo D$((2+2))AGAIN")
            #expect(try await Self.read(viewer, until: "D4AGAIN").contains("20 100"))
            // The terminal outlives its clients, and is listed.
            try await first.close()
            try await second.close()
            try await viewer.close()
            let listed = try await RawHTTP.request(port: server.port, "GET", "/api/ptysession/name=work")
            #expect(listed.body.contains("\"Name\": \"work\""))
            #expect(await manager.runningCount == 1)
            let third = try await WebSocketTestClient.connect(server.base + "/api/pty/name=work")
            _ = try await Self.read(third, until: "D4AGAIN")
            // DELETE ends it; the attached client gets the exit and returns to the Shell.
            let deleted = try await RawHTTP.request(port: server.port, "DELETE", "/api/ptysession/name=work")
            #expect(deleted.status == 200)
            #expect(deleted.body.contains("\"DeletedCount\": 1"))
            let end = try await Self.read(third, until: "? <no query>")
            #expect(end.contains("200: OK. The program 'bash' "))
            try await third.close()
            #expect(await manager.runningCount == 0)
        }
    }

    @Test func aSingleManagerSharesOneProgramWithEveryone() async throws {
        try await Self.withServer(sharing: .single) { server, manager in
            let first = try await WebSocketTestClient.connect(server.base + "/api/pty")
            first.send("echo PID=$$ D$((3*3))ONE")
            let pid = try await Self.read(first, until: "D9ONE")
            try await first.close()
            let second = try await WebSocketTestClient.connect(server.base + "/api/pty/name=ignored")
            second.send("echo PID=$$ D$((3*4))TWO")
            let again = try await Self.read(second, until: "D12TWO")
            let firstPid = pid.components(separatedBy: "PID=").last?.split(separator: " ").first
            #expect(firstPid != nil && again.contains("PID=\(firstPid!) D12TWO"), "the same shell")
            #expect(await manager.runningCount == 1)
            try await second.close()
        }
    }

    @Test func theShellEntersAPtyAndTheLimitIsEnforced() async throws {
        try await Self.withServer(maxTerminals: 1) { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/shell")
            _ = try await client.receiveText()
            _ = try await client.receiveText()
            client.send("/pty/rows=10&cols=50")
            #expect(try await client.receiveText() == "? /Switchboard.Pty/Rows=10&Cols=50")
            client.send("GET")
            client.send("stty size; echo D$((4+4))IN")
            #expect(try await Self.read(client, until: "D8IN").contains("10 50"))
            let refused = try await WebSocketTestClient.connect(server.base + "/api/pty")
            #expect(try await refused.receiveText() == "503: Service unavailable. There are 1 terminals running, the most this server allows; try again later")
            #expect(try await refused.receiveText() == shellBanner, "the connection returns to the Shell")
            try await refused.close()
            client.send("#SHELL")
            _ = try await Self.read(client, until: "? /Switchboard.Pty/Rows=10&Cols=50")
            try await client.close()
        }
    }

    /// The server's open descriptors and its PTY programs (session leaders among its children).
    static func counts() -> (descriptors: Int, programs: Int) {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        let me = getpid()
        var programs = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 4, let parent = Int32(fields[2]), let session = Int32(fields[4]) else { continue }
            if parent == me && session == pid && fields[1] != "Z" { programs += 1 }
        }
        return (descriptors, programs)
    }

    @Test func openCloseCyclesLeaveNoDescriptorsOrProcesses() async throws {
        try await Self.withServer { server, manager in
            // Warm up first: the event loops, the reaper thread and the clients' pipes are opened once.
            var before = Self.counts()
            for cycle in 0..<205 {
                if cycle == 5 { before = Self.counts() }
                let client = try await WebSocketTestClient.connect(server.base + "/api/pty")
                if cycle % 2 == 0 {
                    client.send("sleep 100 & echo D$((9+9))BG")
                    _ = try await Self.read(client, until: "D18BG")
                } else {
                    client.send("echo D$((9+8))UP")
                    _ = try await Self.read(client, until: "D17UP")
                }
                try await client.close()
                while await manager.runningCount > 0 { await Task.yield() }
            }
            // Reaping the PTY programs leaves the application's own children to it.
            let own = Process()
            own.executableURL = URL(fileURLWithPath: "/bin/sh")
            own.arguments = ["-c", "exit 3"]
            try own.run()
            try await onOwnThread { own.waitUntilExit() }
            #expect(own.terminationStatus == 3)
            var after = Self.counts()
            // Background jobs get SIGKILL after the grace period; wait for the kernel to clear them.
            let deadline = ContinuousClock.now + .seconds(5)
            while after.programs > before.programs || after.descriptors > before.descriptors, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                after = Self.counts()
            }
            #expect(after.programs == before.programs)
            #expect(after.descriptors <= before.descriptors + 2, "\(before) → \(after)")
        }
    }

    /// The resident set of this process (the server runs in it), in bytes.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }

    static func state(of pid: Int32) -> Character? { processState(of: pid) }

    @Test func aStalledClientUnderAYesFloodHoldsTheProgramNotTheMemory() async throws {
        try await Self.withServer { server, _ in
            let witness = try await Witness.open(server)
            let before = Self.residentBytes()
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/pty")
            let flood = try await raw.floodThatNobodyReads()
            let during = Self.residentBytes()
            #expect(during - before < 32 << 20, "RSS grew from \(before >> 20) MiB to \(during >> 20) MiB")
            try await witness.stillWorks()
            raw.reset()
            #expect(await eventually { hasEnded(flood) })
        }
    }

    /// A client that reads nothing, its program blocked behind the output it does not take: the connection
    /// ends, and its program with it. With pings on, its ping goes unanswered, and the close that follows
    /// cannot go out behind the flood (the close timeout ends it). With pings off and no close begun, no output
    /// leaves for it for the idle timeout (3 s here: longer than it takes to fill every buffer between `yes`
    /// and the client). The same for a line client (`output=lines`, a message per line), whose flood has long
    /// lines: a debug build fills the socket's megabytes with a message per short line too slowly for the test's
    /// time (10 s where a release build takes about one).
    @Test(arguments: [
        ("its ping goes unanswered", "terminal", SwitchboardServerConfiguration(pingInterval: .seconds(1), closeTimeout: .seconds(1))),
        ("no output leaves for it, pings off", "terminal", SwitchboardServerConfiguration(pingInterval: nil, idleTimeout: .seconds(3))),
        ("a line client's ping goes unanswered", "lines", SwitchboardServerConfiguration(pingInterval: .seconds(1), closeTimeout: .seconds(1))),
        ("no output leaves for a line client, pings off", "lines", SwitchboardServerConfiguration(pingInterval: nil, idleTimeout: .seconds(3))),
    ])
    func aClientThatReadsNothingIsDisconnected(when: String, output: String, configuration: SwitchboardServerConfiguration) async throws {
        try await Self.withServer(configuration: configuration) { server, _ in
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/pty/output=\(output)")
            let flood = try await raw.floodThatNobodyReads(lineLength: output == "lines" ? 1000 : 0)
            #expect(raw.serverEndIsOpen(serverPort: server.port))
            #expect(await eventually { !raw.serverEndIsOpen(serverPort: server.port) }, "the server still holds the connection when \(when)")
            #expect(await eventually { hasEnded(flood) }, "the program still runs when \(when)")
            #expect(await eventually { server.api.connectionCount == 0 })
        }
    }

    /// A client that begins the close (or fails the connection) and reads nothing: the server's answer waits
    /// behind the flood for ever, and the connection ends after the close timeout all the same.
    @Test(arguments: [("a close frame", RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE8])), ("a reserved bit", [0xA1, 0x80, 0, 0, 0, 0])])
    func aClientThatEndsTheConnectionAndReadsNothingIsDisconnected(how: String, frame: [UInt8]) async throws {
        try await Self.withServer(configuration: .init(pingInterval: nil, closeTimeout: .seconds(1))) { server, _ in
            let raw = try RawSocket(port: server.port)
            try await raw.upgrade(path: "/api/pty")
            let flood = try await raw.floodThatNobodyReads()
            #expect(raw.serverEndIsOpen(serverPort: server.port))
            try raw.write(frame)
            #expect(await eventually { !raw.serverEndIsOpen(serverPort: server.port) }, "the server still holds the connection after \(how)")
            #expect(await eventually { hasEnded(flood) }, "the program still runs after \(how)")
        }
    }

    @Test func aStalledClientOfASharedTerminalIsDetachedNotFollowed() async throws {
        try await Self.withServer { server, _ in
            let reader = try await WebSocketTestClient.connect(server.base + "/api/pty/name=shared")
            reader.send("echo D$((5*5))IN")
            _ = try await Self.read(reader, until: "D25IN")
            let stalled = try RawSocket(port: server.port)
            try await stalled.upgrade(path: "/api/pty/name=shared")
            // 40 MB of output: far more than the loopback socket buffers and the 1 MiB allowance.
            reader.send("head -c 40000000 /dev/zero | tr '\\0' x; echo; echo D$((6*6))OUT")
            _ = try await Self.read(reader, until: "D36OUT")
            #expect(await eventually { server.api.connectionCount == 1 }, "the stalled client was detached")
            reader.send("echo D$((7*7))STILL")
            _ = try await Self.read(reader, until: "D49STILL")
            stalled.reset()
            try await reader.close()
        }
    }

    @Test func oneMebibyteOfInputInOneMessage() async throws {
        try await Self.withServer { server, _ in
            let client = try await WebSocketTestClient.connect(server.base + "/api/pty")
            client.send("stty raw -echo; head -c 1048576 | wc -c; stty sane; echo D$((6+6))DONE")
            client.send(ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)))
            let output = try await Self.read(client, until: "D12DONE")
            #expect(output.contains("1048576"))
            client.send("echo D$((6+7))STILL")
            _ = try await Self.read(client, until: "D13STILL")
            try await client.close()
        }
    }
}
