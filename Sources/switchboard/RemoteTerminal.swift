@preconcurrency import Dispatch
import Foundation
import HummingbirdWSClient
import NIOCore
import NIOWebSocket
import Switchboard
import Synchronization

/// `switchboard connect` to a PTY terminal from a terminal: the local terminal is put in raw mode and every
/// keystroke goes to the remote program, as with ssh.
///
/// It speaks terminado (`mode=terminado` is added to the URL): keystrokes go out as `["stdin", …]`, window
/// size changes as `["set_size", rows, cols]`, output comes in as `["stdout", …]`, and the program's end as
/// `["disconnect", 1]` and a close whose reason is the exit status. `~.` at the start of a line disconnects
/// (`~~` sends one `~`). The local terminal is restored on every way out: the end of the program, an error,
/// the escape, SIGTERM, SIGHUP, SIGINT, SIGQUIT.
enum RemoteTerminal {
    /// Whether a URL opens a PTY terminal (`…/pty`, `…/switchboard.pty`, with or without properties).
    static func opensPty(_ url: String) -> Bool {
        guard let path = URL(string: url)?.path else { return false }
        let segments = path.split(separator: "/").map { $0.lowercased() }
        return segments.contains { $0 == "pty" || $0 == "switchboard.pty" }
    }

    /// The URL with `mode=terminado` among the PTY's properties.
    static func terminadoURL(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        var segments = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let index = segments.lastIndex(where: { ["pty", "switchboard.pty"].contains($0.lowercased()) }) else { return url }
        if index + 1 < segments.count, !segments[index + 1].isEmpty {
            segments[index + 1] += "&mode=terminado"
        } else {
            segments = Array(segments[...index]) + ["mode=terminado"]
        }
        components.percentEncodedPath = segments.joined(separator: "/")
        return components.string ?? url
    }

    /// The local terminal's size.
    static func windowSize() -> (rows: Int, cols: Int)? {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_row), Int(size.ws_col))
    }

    /// `["stdout", "text"]` → `("stdout", "text")`; `nil` for anything else.
    static func terminado(_ text: String) -> (kind: String, argument: String)? {
        guard case .array(let items)? = try? JSON(parsing: text), items.count == 2, case .string(let kind) = items[0],
            case .string(let argument) = items[1]
        else { return nil }
        return (kind, argument)
    }

    /// Runs the session over an open connection, until the program ends, the server closes, or the escape.
    static func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, terminal: LocalTerminal) async throws {
        func send(_ message: JSON) async throws { try await outbound.writeTextMessage(message.compact) }
        let size = WindowSizeSender(outbound: outbound)
        try await size.sendIfChanged()
        let keys = terminal.readKeys()
        let resizes = terminal.windowChanges()
        enum Ended { case connection, input, timedOut }
        try await withThrowingTaskGroup(of: Ended.self) { group in
            group.addTask {
                for try await message in inbound.messages(maxSize: 16 << 20) {
                    guard case .text(let text) = message, let (kind, argument) = terminado(text) else { continue }
                    if kind == "stdout" {
                        terminal.write(argument)
                    } else if kind == "notice" || kind == "error" {
                        terminal.write("\r\n[switchboard: \(argument)]\r\n")
                    }
                }
                return .connection
            }
            group.addTask {
                for await event in keys {
                    switch event {
                    case .keys(let text):
                        try await size.sendIfChanged()
                        try await send(["stdin", .string(text)])
                    case .disconnect, .end:
                        try await outbound.close(.normalClosure, reason: nil)
                        return .input
                    }
                }
                return .input
            }
            group.addTask {
                for await _ in resizes { try await size.sendIfChanged() }
                return .input
            }
            // The program's end (the server closes), or the escape: then the server's side of the close is
            // awaited, for a while.
            if try await group.next() == .input {
                group.addTask {
                    try await Task.sleep(for: ConnectCommand.closeTimeout)
                    return .timedOut
                }
                while let ended = try await group.next(), ended == .input {}
            }
            group.cancelAll()
        }
    }
}

/// Sends the local terminal's size (`["set_size", rows, cols]`) when it differs from the size last sent: on
/// SIGWINCH, and again before any keys go, so that keys typed right after a resize never reach the program
/// before the new size does (the signal is handled on another thread, and can come after keys already read).
final class WindowSizeSender: Sendable {
    private let outbound: WebSocketOutboundWriter
    private let lock = AsyncLock()
    private let sent = Mutex<(rows: Int, cols: Int)?>(nil)

    init(outbound: WebSocketOutboundWriter) { self.outbound = outbound }

    /// Sends the size if it changed; a call that comes while another sends waits for it, so keys sent after
    /// it follow every size sent before.
    func sendIfChanged() async throws {
        try await lock.withLock {
            guard let size = RemoteTerminal.windowSize() else { return }
            let changed = sent.withLock { sent in
                if let sent, sent == size { return false }
                sent = size
                return true
            }
            guard changed else { return }
            let message: JSON = ["set_size", .int(size.rows), .int(size.cols)]
            try await outbound.writeTextMessage(message.compact)
        }
    }
}

/// The local terminal in raw mode, restored on every way out.
final class LocalTerminal: Sendable {
    enum Event: Sendable {
        case keys(String)
        case disconnect
        case end
    }

    private let saved = Mutex<termios?>(nil)
    private let signalSources = Mutex<[any DispatchSourceSignal]>([])

    /// Puts the terminal in raw mode and arranges for SIGTERM, SIGHUP, SIGINT and SIGQUIT (sent by another
    /// process: in raw mode the keys send no signals) to restore it before exiting.
    func enterRawMode() {
        var original = termios()
        guard tcgetattr(0, &original) == 0 else { return }
        saved.withLock { $0 = original }
        var raw = original
        cfmakeraw(&raw)
        // TCSANOW keeps what was typed ahead: it is sent once the connection is open.
        tcsetattr(0, TCSANOW, &raw)
        for number in [SIGTERM, SIGHUP, SIGINT, SIGQUIT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                restore()
                exit(128 + number)
            }
            source.resume()
            signalSources.withLock { $0.append(source) }
        }
    }

    /// Restores the terminal as it was (once).
    func restore() {
        saved.withLock { saved in
            guard var original = saved else { return }
            tcsetattr(0, TCSADRAIN, &original)
            saved = nil
        }
    }

    func write(_ text: String) { writeToStandardOutput(text) }

    /// Keystrokes from standard input, with ssh's escape: `~.` at the start of a line disconnects, `~~` sends `~`.
    func readKeys() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var escape = EscapeState()
            var pending: [UInt8] = []
            while true {
                let count = read(0, &buffer, buffer.count)
                if count <= 0 {
                    continuation.yield(.end)
                    break
                }
                let (bytes, disconnect) = escape.filter(buffer[0..<count])
                pending += bytes
                // Keep an incomplete UTF-8 sequence for the next read.
                var complete = pending.count
                while complete > 0, complete > pending.count - 4, String(validating: pending[0..<complete], as: UTF8.self) == nil {
                    complete -= 1
                }
                if complete > 0, let text = String(validating: pending[0..<complete], as: UTF8.self) {
                    continuation.yield(.keys(text))
                    pending.removeFirst(complete)
                } else if pending.count >= 4 {
                    continuation.yield(.keys(String(decoding: pending, as: UTF8.self)))
                    pending = []
                }
                if disconnect {
                    continuation.yield(.disconnect)
                    break
                }
            }
            continuation.finish()
        }.start()
        return stream
    }

    /// The terminal's new size each time it changes (SIGWINCH).
    func windowChanges() -> AsyncStream<(rows: Int, cols: Int)> {
        let (stream, continuation) = AsyncStream.makeStream(of: (rows: Int, cols: Int).self)
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
        source.setEventHandler {
            if let size = RemoteTerminal.windowSize() { continuation.yield(size) }
        }
        source.resume()
        signalSources.withLock { $0.append(source) }
        return stream
    }
}

/// ssh's escape: `~` right after Enter (or at the start) starts it; `.` then disconnects, `~` sends one `~`,
/// anything else sends both.
struct EscapeState {
    private var atLineStart = true
    private var afterTilde = false

    /// The bytes to send, and whether the escape asked to disconnect.
    mutating func filter(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], disconnect: Bool) {
        var output: [UInt8] = []
        for byte in input {
            if afterTilde {
                afterTilde = false
                if byte == UInt8(ascii: ".") { return (output, true) }
                if byte != UInt8(ascii: "~") { output.append(UInt8(ascii: "~")) }
                output.append(byte)
            } else if atLineStart && byte == UInt8(ascii: "~") {
                afterTilde = true
                continue
            } else {
                output.append(byte)
            }
            atLineStart = byte == 0x0D || byte == 0x0A
        }
        return (output, false)
    }
}
