import ArgumentParser
import Foundation
import Switchboard
import HTTPTypes
import HummingbirdWSClient
import HummingbirdWSCompression
import Logging
import NIOCore
import NIOSSL
import SwitchboardHummingbird
import NIOWebSocket
import Synchronization

struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "An interactive WebSocket client: a line client, or a real terminal for PTY terminals.",
        discussion: """
            Text messages are printed as they arrive; binary messages are printed as text when they are UTF-8, \
            otherwise as their size. On a terminal, lines can be edited (arrows, Home/End, Ctrl-A/E/U/K/W) and \
            Up/Down recall earlier lines; Ctrl-D or Ctrl-C closes the connection. From a pipe, every line of \
            input is sent; then, with --until TEXT, the client waits for a message containing TEXT, otherwise \
            until no message has arrived for --drain seconds, and closes.

            To a PTY terminal (/api/pty...) from a terminal, it is a real terminal, as ssh is: the local \
            terminal goes into raw mode, every key goes to the remote program (Ctrl-C included), window size \
            changes follow, full-screen programs work, and the terminal is restored at the end. '~.' after \
            Enter disconnects. --line keeps the line client instead.

            The key goes in an 'Authorization: Bearer' header: --token, or SWITCHBOARD_TOKEN, or, for a server \
            on this machine, the token `switchboard serve` left for its port (in $XDG_RUNTIME_DIR/switchboard or \
            ~/.local/share/switchboard/runtime), or ./switchboard-data/token.

            Example: printf '#INFO\\n' | switchboard connect ws://127.0.0.1:8080/api/shell
            """
    )

    @Argument(help: "The WebSocket URL, such as ws://127.0.0.1:8080/api/shell.") var url: String
    @Option(name: .customShort("H"), help: "A header to send with the upgrade request, as 'Name: value' (repeatable).")
    var header: [String] = []
    @Option(help: "Seconds of quiet to wait for after the end of piped input before closing (without --until).") var drain = 1.0
    @Option(help: "From a pipe: after the input ends, wait for a message containing this text, then close.") var until: String?
    @Flag(help: "A line client even for a PTY terminal on a terminal.") var line = false
    @Flag(help: "Do not offer permessage-deflate compression.") var noCompression = false
    @Option(help: "The access token or API key (also SWITCHBOARD_TOKEN); found by itself for a server on this machine.")
    var token: String?
    @Option(help: "For wss://: a PEM file of the certificates to trust instead of the system's (a self-signed server's own).")
    var ca: String?
    @Option(help: "Seconds to wait for the server to answer the WebSocket upgrade.") var connectTimeout = 10.0

    /// `--drain` is a number of seconds that a wait can take: `inf` or `1e300` crashed the client (exit 132), and a
    /// negative one was taken as no wait.
    func validate() throws {
        guard drain >= 0 && drain <= 3_600 else { throw ValidationError("--drain must be 0 to 3600 seconds") }
        guard connectTimeout > 0 && connectTimeout <= 3_600 else { throw ValidationError("--connect-timeout must be above 0 and at most 3600 seconds") }
        // `127.0.0.1:8080/api/shell` was "Invalid URL", and `localhost:8080` read as a scheme.
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            ["ws", "wss", "http", "https"].contains(scheme), let host = components.host, !host.isEmpty
        else {
            throw ValidationError(
                "'\(SwitchboardError.excerpt(url))' is not a WebSocket URL: it starts with ws:// or wss:// and names a host, as in ws://127.0.0.1:8080/api/shell"
            )
        }
    }

    func run() async throws {
        var fields = HTTPFields()
        for line in header {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon]).trimmingCharacters(in: .whitespaces))
            else { throw ValidationError("Invalid header '\(line)'; write it as 'Name: value'") }
            fields.append(HTTPField(name: name, value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        if !fields.contains(where: { $0.name == .authorization }), let key = Self.key(given: token, for: url) {
            fields.append(HTTPField(name: .authorization, value: "Bearer " + key))
        }
        let interactive = isatty(0) == 1 && isatty(1) == 1
        if interactive && !line && RemoteTerminal.opensPty(url) {
            try await runTerminal(fields: fields)
            return
        }
        let until = self.until
        let seen = UntilSeen()
        let console = Console(interactive: interactive)
        let input = console.startReading()
        defer { console.restore() }
        let lastMessage = LastMessageTime()
        let drain = Duration.milliseconds(Int(max(0, self.drain) * 1000))
        let closeFrame: WebSocketCloseFrame?
        let deadline = HandshakeDeadline(url: url, seconds: connectTimeout) { console.restore() }
        do {
            let (configuration, tls) = try clientSettings(fields: fields)
            closeFrame = try await WebSocketClient.connect(url: url, configuration: configuration, tlsConfiguration: tls, logger: Self.logger) {
                inbound, outbound, _ in
                deadline.upgraded()
                // The printer runs until the server's close frame ends the inbound stream. When input ends, the
                // sender starts the closing handshake and the printer is left to read the server's reply.
                enum Finished { case server, input, timedOut }
                try await withThrowingTaskGroup(of: Finished.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 16 << 20) {
                            lastMessage.touch()
                            let shown: String
                            switch message {
                            case .text(let text): shown = text
                            case .binary(let bytes):
                                if let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes),
                                    String(validating: bytes.readableBytesView, as: UTF8.self) != nil
                                {
                                    shown = text
                                } else {
                                    shown = "<binary message: \(bytes.readableBytes) bytes>"
                                }
                            }
                            console.show(shown)
                            if let until, shown.contains(until) { seen.mark() }
                        }
                        return .server
                    }
                    group.addTask {
                        for await event in input {
                            switch event {
                            case .line(let line): try await outbound.writeTextMessage(line)
                            case .interrupt: break
                            case .endOfInput:
                                if interactive { break }
                                if until != nil {
                                    // Ends on the marker, however long the server takes to send it.
                                    await seen.wait()
                                    break
                                }
                                lastMessage.touch()
                                while lastMessage.quiet < drain {
                                    try await Task.sleep(for: .milliseconds(50))
                                }
                            }
                            if case .line = event { continue }
                            try await outbound.close(.normalClosure, reason: nil)
                            return .input
                        }
                        try await outbound.close(.normalClosure, reason: nil)
                        return .input
                    }
                    if try await group.next() == .input {
                        // A server that never answers the close must not keep the client waiting forever.
                        group.addTask {
                            try await Task.sleep(for: Self.closeTimeout)
                            return .timedOut
                        }
                        if try await group.next() == .timedOut {
                            FileHandle.standardError.write(
                                Data("The server did not answer the close within \(Self.closeTimeout)\n".utf8))
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch {
            console.restore()
            throw await Self.couldNotConnect(to: url, headers: fields, tls: (try? clientSettings(fields: fields))?.1, error)
        }
        console.restore()
        let code = closeFrame.map { String(Self.number(of: $0.closeCode)) } ?? "none"
        let reason = closeFrame?.reason.flatMap { $0.isEmpty ? nil : ": \(Console.visible($0))" } ?? ""
        FileHandle.standardError.write(Data("Connection closed (\(code))\(reason)\n".utf8))
        if let closeFrame, ![1000, 1001].contains(Self.number(of: closeFrame.closeCode)) { throw ExitCode(1) }
    }

    static var logger: Logger {
        var logger = Logger(label: "switchboard.connect")
        logger.logLevel = .critical
        return logger
    }

    /// The client's WebSocket settings and, for wss://, its TLS settings.
    func clientSettings(fields: HTTPFields) throws -> (WebSocketClientConfiguration, TLSConfiguration?) {
        var configuration = WebSocketClientConfiguration(
            maxFrameSize: 16 << 20, additionalHeaders: fields,
            extensions: noCompression ? [] : [.perMessageDeflate(maxDecompressedFrameSize: 16 << 20)],
            closeTimeout: Self.closeTimeout, validateUTF8: true)
        guard url.lowercased().hasPrefix("wss://") else { return (configuration, nil) }
        var client = TLSConfiguration.makeClientConfiguration()
        if let ca { client.trustRoots = .file(ca) }
        // TLS cannot name an IP address in SNI. With a pinned --ca the certificate is checked against
        // that file alone, without the host name; without one, an IP address cannot be verified.
        if let host = URL(string: url)?.host, IPAddressRange(host) != nil {
            guard ca != nil else {
                throw ValidationError("wss:// to an IP address needs --ca with the server's certificate; or use its host name")
            }
            client.certificateVerification = .noHostnameVerification
            configuration.sniHostname = "localhost"
        }
        return (configuration, client)
    }

    /// A PTY from a terminal: raw mode, every key to the program, terminado underneath (see ``RemoteTerminal``).
    func runTerminal(fields: HTTPFields) async throws {
        let terminal = LocalTerminal()
        let closeFrame: WebSocketCloseFrame?
        let deadline = HandshakeDeadline(url: url, seconds: connectTimeout) { terminal.restore() }
        do {
            let (configuration, tls) = try clientSettings(fields: fields)
            terminal.enterRawMode()
            defer { terminal.restore() }
            closeFrame = try await WebSocketClient.connect(
                url: RemoteTerminal.terminadoURL(url), configuration: configuration, tlsConfiguration: tls, logger: Self.logger
            ) { inbound, outbound, _ in
                deadline.upgraded()
                try await RemoteTerminal.run(inbound: inbound, outbound: outbound, terminal: terminal)
            }
        } catch {
            terminal.restore()
            throw await Self.couldNotConnect(to: url, headers: fields, tls: (try? clientSettings(fields: fields))?.1, error)
        }
        terminal.restore()
        let code = closeFrame.map { Self.number(of: $0.closeCode) }
        let reason = closeFrame?.reason.flatMap { $0.isEmpty ? nil : ": \(Console.visible($0))" } ?? ""
        FileHandle.standardError.write(Data("\r\nConnection closed (\(code.map(String.init) ?? "none"))\(reason)\n".utf8))
        if let code, ![1000, 1001].contains(code) { throw ExitCode(1) }
    }

    /// The key to send: the one given, `SWITCHBOARD_TOKEN`, or for a loopback URL the token a local
    /// `switchboard serve` left for that port (only from owner-only files of this user).
    static func key(given: String?, for url: String) -> String? {
        if let given { return given }
        if let environment = ProcessInfo.processInfo.environment["SWITCHBOARD_TOKEN"], !environment.isEmpty { return environment }
        guard let parsed = URL(string: url), let host = parsed.host, SwitchboardServer.isLoopback(host) else { return nil }
        let port = parsed.port ?? (parsed.scheme == "wss" ? 443 : 80)
        if let file = AccessSetup.runtimeTokenFile(port: port), let token = AccessSetup.readOwnerOnly(file) { return token }
        return AccessSetup.readOwnerOnly(AccessSetup.tokenFile(dataDirectory: "switchboard-data"))
    }

    /// Says why the connection could not be made (asking the server when it refused the upgrade); the exit
    /// status to end with.
    static func couldNotConnect(to url: String, headers: HTTPFields, tls: TLSConfiguration?, _ error: any Error) async -> ExitCode {
        var reason = "\(error)"
        // NIO's account of a refused connection names its types and errno twice; the user needs the fact.
        if reason.contains("Connection refused"), let components = URLComponents(string: url), let host = components.host {
            let port = components.port ?? (["wss", "https"].contains(components.scheme?.lowercased() ?? "") ? 443 : 80)
            reason = "connection refused: nothing listens on \(host):\(port) (is the server running, on this port?)"
        } else if let tls = tlsReason(reason, url: url) {
            reason = tls
        } else if reason == "\(ChannelError.inappropriateOperationForState)" {
            // NIO's upgrade handler, left by a connection that ended before the server's answer.
            reason = "the server closed the connection without answering the WebSocket upgrade"
        }
        if let refusal = await refusal(url: url, headers: headers, tls: tls) { reason = refusal }
        FileHandle.standardError.write(Data("Could not connect to \(url): \(reason)\n".utf8))
        return ExitCode(2)
    }

    /// What a failed TLS handshake means for the user, from BoringSSL's account of it (which names its source
    /// file and error numbers); `nil` for other errors.
    static func tlsReason(_ error: String, url: String) -> String? {
        let place = URLComponents(string: url).map { "\($0.host ?? "the server"):\($0.port ?? 443)" } ?? "the server"
        if error.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the certificate of \(place) is not trusted here (self-signed, or from an authority this machine does not trust): "
                + "pass --ca with the certificate it serves (for switchboard serve, its --tls-cert file)"
        }
        if error.contains("failedToValidateHostname") {
            return "the certificate of \(place) is not for this host name"
        }
        if error.contains("EOF during handshake") || error.contains("WRONG_VERSION_NUMBER") {
            return "\(place) ended the connection in the TLS handshake: is it a plain ws:// server?"
        }
        if error.contains("handshakeFailed") {
            return "the TLS handshake with \(place) failed: \(error)"
        }
        return nil
    }

    /// Why the server refused the upgrade, from a plain GET of the same URL with the same headers: the
    /// status and message of its JSON error (a `426` means the upgrade itself was fine).
    static func refusal(url: String, headers: HTTPFields, tls: TLSConfiguration?) async -> String? {
        guard let http = await RefusalProbe.get(url: url, headers: headers, tls: tls), http.status != 426 else { return nil }
        // A path that answers a plain GET but opens no WebSocket (a page, `/health`): the status alone read as if
        // all were well.
        if http.status < 300 { return "nothing opens a WebSocket at this path (a plain GET of it is answered HTTP \(http.status))" }
        var message = "HTTP \(http.status)"
        if case .object(let object)? = try? JSON(parsing: http.body), case .string(let text)? = object["Message"] {
            message += ": " + text
        } else if http.status == 404 {
            // Switchboard answers a path below its API root with a JSON error: this one is outside it, or not
            // Switchboard's at all (another server on that port).
            message += ": nothing at this path: a Switchboard server's terminals are below its API root, such as /api/shell; is this a Switchboard server?"
        }
        if http.status == 401 { message += " (pass --token <key> or set SWITCHBOARD_TOKEN)" }
        return message
    }

    /// How long to wait for the server's side of the closing handshake.
    static let closeTimeout = Duration.seconds(5)

    static func number(of code: WebSocketErrorCode) -> Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: code)
        return Int(buffer.readInteger(as: UInt16.self) ?? 0)
    }
}

/// Whether the `--until` text has arrived.
final class UntilSeen: Sendable {
    private let state = Mutex<(seen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func mark() {
        let waiters = state.withLock { state in
            state.seen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.seen { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// When the last message arrived.
final class LastMessageTime: Sendable {
    private let time = Mutex(ContinuousClock.now)
    func touch() { time.withLock { $0 = .now } }
    var quiet: Duration { ContinuousClock.now - time.withLock { $0 } }
}

/// The terminal or pipe the client talks to: reads lines (with editing and history on a TTY) and prints
/// incoming messages without disturbing the line being typed.
final class Console: Sendable {
    let interactive: Bool
    private let prompt = "> "
    private let editor = Mutex(LineEditor())
    private let savedTermios = Mutex<termios?>(nil)

    init(interactive: Bool) { self.interactive = interactive }

    /// Starts a thread that reads standard input.
    func startReading() -> AsyncStream<InputEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: InputEvent.self)
        if interactive { enterRawMode() }
        let thread = Thread { [self] in
            if interactive {
                redraw()
                readKeys(continuation)
            } else {
                while let line = readLine(strippingNewline: true) { continuation.yield(.line(line)) }
                continuation.yield(.endOfInput)
            }
            continuation.finish()
        }
        thread.start()
        return stream
    }

    /// Prints a message on its own line(s), then redraws the line being typed. On a terminal, the message's
    /// control characters are shown, not obeyed (``visible(_:)``); in a pipe it is written as it came.
    func show(_ text: String) {
        editor.withLock { editor in
            if interactive {
                write("\r\u{1B}[K" + Self.visible(text) + "\n")
                write(editor.rendered(prompt: prompt))
            } else {
                write(text + "\n")
            }
        }
    }

    /// Text with its control characters written as `^[`, `^G`, `^?` (C0 and DEL, as `cat -v` shows them) and
    /// `\u{9B}` (C1), but for line breaks and tabs (a `\r\n` is a line break): a server's message, or another
    /// user's that a terminal relays, could otherwise clear the screen, rewrite the line being typed, set the
    /// window's title or (OSC 52) the clipboard of the user's terminal.
    static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) && $0 != "\n" && $0 != "\t" }) else { return text }
        var result = ""
        var scalars = text.unicodeScalars.makeIterator()
        var pending = scalars.next()
        while let scalar = pending {
            pending = scalars.next()
            switch scalar {
            case "\r" where pending == "\n": continue
            case "\n", "\t": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20: result += "^" + String(UnicodeScalar(UInt8(scalar.value + 0x40)))
            case "\u{7F}": result += "^?"
            case _ where isControl(scalar): result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) }

    func restore() {
        savedTermios.withLock { saved in
            guard var original = saved else { return }
            tcsetattr(0, TCSANOW, &original)
            saved = nil
            write("\r\u{1B}[K")
        }
    }

    private func enterRawMode() {
        var original = termios()
        guard tcgetattr(0, &original) == 0 else { return }
        savedTermios.withLock { $0 = original }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        raw.c_cc.16 = 1  // VMIN
        raw.c_cc.5 = 0  // VTIME
        tcsetattr(0, TCSANOW, &raw)
    }

    private func write(_ text: String) { writeToStandardOutput(text) }

    private func redraw() { editor.withLock { write($0.rendered(prompt: prompt)) } }

    private func readKeys(_ continuation: AsyncStream<InputEvent>.Continuation) {
        var byte: UInt8 = 0
        while read(0, &byte, 1) == 1 {
            let event: InputEvent? = editor.withLock { editor in
                let event = editor.handle(byte)
                write(editor.rendered(prompt: prompt))
                return event
            }
            if let event {
                continuation.yield(event)
                if case .line = event { continue }
                return
            }
        }
        continuation.yield(.endOfInput)
    }
}

/// Writes all of `text` to standard output, unbuffered (the terminal may be in raw mode); stops if the output
/// is gone.
func writeToStandardOutput(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}
