import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Switchboard
import SwitchboardHummingbird
import SwitchboardPTY
import Testing

@testable import SwitchboardTestSupport

extension CommandLineTests {
    static let wsdumpAvailable = isInstalled("wsdump")
    static let uwscAvailable = isInstalled("uwsc")

    /// Runs `Tests/Support/line_client_session.py` with a client and a scenario against a fresh `serve`.
    func lineClientSession(_ client: String, _ scenario: String, path: String) async throws -> (status: Int32, output: String) {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let session = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/line_client_session.py", client, scenario,
            "ws://127.0.0.1:\(port)/api(\(try Self.token(data)))" + path,
        ])
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        return session
    }

    /// A person at websocket-client's `wsdump` or at `python -m websockets`, in a pseudo-terminal, against a raw
    /// PTY in line mode: answers a `read -p` with one letter and with an empty line, interrupts `sleep` with `^C`
    /// ($? 130), ends a program's input with `^D`, and sends the text `^C` with `\^C`; and is never shown the
    /// shell's escape sequences or line breaks escaped (`python -m websockets` prints a message's control
    /// characters as `\x1b` and `\r\n`).
    @Test(.enabled(if: wsdumpAvailable, "needs wsdump (pip install websocket-client; .ci/run installs it)"))
    func aLineClientAnswersPromptsAndSendsControlKeys() async throws {
        try await expectALineClientSession("wsdump")
    }

    /// The same with `python -m websockets`, which the tests need anyway.
    @Test func pythonWebsocketsAnswersPromptsAndSendsControlKeys() async throws {
        try await expectALineClientSession("websockets")
    }

    private func expectALineClientSession(_ client: String) async throws {
        let session = try await lineClientSession(client, "pty", path: "/pty")
        #expect(session.status == 0, "\(session.output)")
        #expect(session.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 9, "\(session.output)")
    }

    /// The Shell's result bodies are text by default: readable in line clients that print binary messages as
    /// bytes or as a length.
    @Test(
        .enabled(if: wsdumpAvailable && uwscAvailable, "needs wsdump and uwsc (.ci/run installs them)"),
        arguments: ["uwsc", "wsdump"])
    func aShellGetIsReadableInALineClient(client: String) async throws {
        let session = try await lineClientSession(client, "shell", path: "/shell")
        #expect(session.status == 0, "\(session.output)")
        #expect(session.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 2, "\(session.output)")
    }
}

extension CommandLineTests {
    /// `switchboard connect` in a pseudo-terminal, as a person at a terminal: keys reach the remote shell,
    /// Ctrl-C interrupts a remote `sleep` ($? 130), vi opens full-screen and quits, the window size follows,
    /// `~.` disconnects, the local terminal's settings are the same afterwards (`stty -g`), and a second
    /// session ends with the program and its exit status.
    @Test func connectIsARealTerminalForAPty() async throws {
        let data = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (process, port) = try await startServe(dataDirectory: data)
        defer { if process.isRunning { process.terminate() } }
        let session = try await run(command: [
            "python3", FileManager.default.currentDirectoryPath + "/Tests/Support/terminal_session.py", try SwitchboardBinary.url.path,
            "ws://127.0.0.1:\(port)/api/pty", try Self.token(data),
        ])
        #expect(session.status == 0, "\(session.output)")
        #expect(session.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 10, "\(session.output)")
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
    }
}

/// Line mode's reading of a message, case by case.
@Suite struct PTYLineInputTests {
    @Test(arguments: [
        ("ls -l", "ls -l\r"), ("", "\r"), ("y", "y\r"), ("ls\n", "ls\r"), ("ls\r\n", "ls\r"), ("a\nb", "a\rb\r"),
        ("a\r\nb\r\n", "a\rb\r"), ("^C", "\u{3}"), ("^d", "\u{4}"), ("^[", "\u{1B}"), ("^?", "\u{7F}"), ("^@", "\u{0}"),
        ("^1", "^1\r"), ("^CC", "^CC\r"), ("<Up>", "\u{1B}[A"), ("<up><DOWN><Enter>", "\u{1B}[A\u{1B}[B\r"), ("<F5>", "\u{1B}[15~"),
        ("<Tab>", "\t"), ("<Nope>", "<Nope>\r"), ("<Up> ", "<Up> \r"), ("\\^C", "^C\r"), ("\\<Up>", "<Up>\r"), ("\\ls", "\\ls\r"),
        ("échec ✓", "échec ✓\r"),
    ])
    func aMessageIsReadAsALineOrAsKeys(message: String, sent: String) {
        #expect(String(buffer: PTYLineInput.keystrokes(for: message)) == sent)
    }

    @Test func aLargePasteIsConvertedAtOnce() {
        let paste = String(repeating: "x", count: 4 << 20) + "\n" + String(repeating: "y", count: 10)
        let bytes = PTYLineInput.keystrokes(for: paste)
        #expect(bytes.readableBytes == (4 << 20) + 12)
        #expect(bytes.getInteger(at: 4 << 20, as: UInt8.self) == UInt8(ascii: "\r"))
    }
}
