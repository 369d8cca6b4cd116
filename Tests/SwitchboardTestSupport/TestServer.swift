import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Switchboard
import SwitchboardHummingbird
import SwitchboardSamples
import Testing
import SwitchboardTesting
import Synchronization
import Testing

/// A terminal for transport tests: `hang` blocks until the terminal is closed, `fail` throws, `binary`
/// sends a UTF-8 and a non-UTF-8 binary message, `close` closes the connection with 4409.
actor Blocker: TextInputTerminal {
    static let resourceName = "Tests.Blocker"
    private var hang: CheckedContinuation<Void, Never>?

    func receive(text: String, from connection: TerminalConnection) async throws {
        switch text {
        case "hang": await withCheckedContinuation { hang = $0 }
        case "fail": throw BlockerError()
        case "cancel": throw CancellationError()
        case "binary":
            try await connection.send(ByteBuffer(string: "binary but UTF-8"))
            try await connection.send(ByteBuffer(bytes: [0xFF, 0xFE, 0x00, 0x80]))
        case "close": await connection.close(.status(409), reason: "409: Conflict. Closed on request")
        default: try await connection.send("ok: \(text)")
        }
    }

    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {
        hang?.resume()
        hang = nil
    }

    func open(_ connection: TerminalConnection) async throws {}
}

/// A terminal with a property of every supported type, for conversion errors.
actor Typed: TextInputTerminal {
    static let resourceName = "Tests.Typed"
    enum Mode: String, CaseIterable, PropertyValue { case fast, slow }
    @Property var count = 0
    @Property var ratio = 0.5
    @Property var when: Date? = nil
    @Property var mode = Mode.fast
    @Property var flag = false
    @Property var limit: Int? = nil

    func receive(text: String, from connection: TerminalConnection) async throws {
        try await connection.send("typed: \(text)")
    }

    func open(_ connection: TerminalConnection) async throws {}
    func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}

struct BlockerError: Error, CustomStringConvertible {
    var description: String { "The blocker failed on purpose" }
}

/// A running server on an ephemeral loopback port.
struct TestServer {
    let port: Int
    let api: SwitchboardAPI
    let group: ServiceGroup
    let running: Task<Void, any Error>

    var base: String { "ws://127.0.0.1:\(port)" }

    /// Logs at the level in `SWITCHBOARD_TEST_LOG` (default: warnings and worse).
    static var defaultLogger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// Starts a server with the Shell, the samples and ``Blocker``, runs `body`, then shuts it down.
    static func with(
        configuration: SwitchboardServerConfiguration = .init(), api apiConfiguration: SwitchboardAPI.Configuration = .init(),
        logger: Logger = TestServer.defaultLogger, authenticator: any Authenticator = AllowAllAuthenticator(),
        configure: (SwitchboardAPI) -> Void = { _ in }, routes: (SwitchboardServer) -> Void = { _ in },
        _ body: (TestServer) async throws -> Void
    ) async throws {
        let server = try await start(
            configuration: configuration, api: apiConfiguration, logger: logger, authenticator: authenticator, configure: configure,
            routes: routes)
        do {
            try await body(server)
        } catch {
            await server.group.triggerGracefulShutdown()
            _ = try? await server.running.value
            throw error
        }
        await server.group.triggerGracefulShutdown()
        try await server.running.value
    }

    /// The API every test server serves: the Shell, the samples, ``Blocker`` and ``Typed``. In-process tests
    /// (with `TestConnection`) use it too, so they see the same resources.
    static func makeAPI(
        configuration: SwitchboardAPI.Configuration = .init(), authenticator: any Authenticator = AllowAllAuthenticator(),
        logger: Logger = TestServer.defaultLogger
    ) throws -> SwitchboardAPI {
        let api = SwitchboardAPI(configuration: configuration, authenticator: authenticator, logger: logger)
        api.register { Echo() }
        api.register { ChatRoom() }
        api.register { Blocker() }
        api.register { Typed() }
        api.register(resource: try InMemoryEntityStore<Superhero>(views: Superhero.views, initial: Superhero.samples))
        return api
    }

    /// Starts a server with the Shell, the samples, ``Blocker`` and ``Typed``; it runs until its group is
    /// shut down.
    static func start(
        configuration: SwitchboardServerConfiguration = .init(), api apiConfiguration: SwitchboardAPI.Configuration = .init(),
        logger: Logger = TestServer.defaultLogger, authenticator: any Authenticator = AllowAllAuthenticator(),
        configure: (SwitchboardAPI) -> Void = { _ in }, routes: (SwitchboardServer) -> Void = { _ in }
    ) async throws -> TestServer {
        let api = try makeAPI(configuration: apiConfiguration, authenticator: authenticator, logger: logger)
        configure(api)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let server = SwitchboardServer(
            api: api, configuration: configuration, host: "127.0.0.1", port: 0, logger: logger
        ) { port in
            portSink.yield(port)
        }
        routes(server)
        let group = ServiceGroup(configuration: .init(services: server.services, logger: logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("server did not start") }
        return TestServer(port: port, api: api, group: group, running: running)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real, independent WebSocket client: Python's `websockets` library, driven through
/// `Tests/Support/ws_client.py` one JSON line per command and event.
///
/// The tests use it rather than swift-websocket's client because that client (1.6.2) can hang when the
/// server closes while the client is still completing its upgrade; see `Docs/KnownIssues.md`.
final class WebSocketTestClient: Sendable {
    struct CloseFrame: Sendable, Equatable {
        let code: Int?
        let reason: String?
    }

    private enum Event: Sendable {
        case message(TerminalMessage)
        case close(CloseFrame)
    }

    private let process: Process
    private let input: FileHandle
    private let writer = DispatchQueue(label: "ws-test-client.writer")
    private let events: Mailbox<Event>
    private let closed = Mutex<CloseFrame?>(nil)

    struct UpgradeFailed: Error, CustomStringConvertible {
        let status: Int?
        let description: String
    }

    private init(process: Process, input: FileHandle, events: Mailbox<Event>) {
        self.process = process
        self.input = input
        self.events = events
    }

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/ws_client.py")
    }

    /// Connects; throws ``UpgradeFailed`` if the server does not upgrade.
    static func connect(
        _ url: String, headers: [(String, String)] = [], compression: Bool = true, trusting certificate: String? = nil
    ) async throws -> WebSocketTestClient {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["python3", script.path, url]
        for (name, value) in headers { arguments += ["--header", "\(name): \(value)"] }
        if !compression { arguments.append("--no-compression") }
        if let certificate { arguments += ["--ca", certificate] }
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        let opened = Mailbox<Result<Void, UpgradeFailed>>()
        let events = Mailbox<Event>()
        let output = stdout.fileHandleForReading
        Thread {
            var pending = Data()
            func handle(_ line: Data) {
                guard case .object(let event) = try? JSON(parsing: String(decoding: line, as: UTF8.self)) else { return }
                switch event["event"] {
                case "open": opened.deliver(.success(()))
                case "error":
                    let status: Int? = if case .int(let code) = event["status"] { code } else { nil }
                    opened.deliver(.failure(UpgradeFailed(status: status, description: "\(event["message"] ?? .null)")))
                case "text":
                    if case .string(let text) = event["data"] { events.deliver(.message(.text(text))) }
                case "binary":
                    if case .string(let encoded) = event["data"], let data = Data(base64Encoded: encoded) {
                        events.deliver(.message(.binary(ByteBuffer(bytes: data))))
                    }
                case "close":
                    let code: Int? = if case .int(let value) = event["code"] { value } else { nil }
                    let reason: String? = if case .string(let value) = event["reason"] { value } else { nil }
                    events.deliver(.close(CloseFrame(code: code, reason: reason)))
                default: break
                }
            }
            while true {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    handle(pending[pending.startIndex..<newline])
                    pending = Data(pending[pending.index(after: newline)...])
                }
            }
            opened.deliver(.failure(UpgradeFailed(status: nil, description: "the client exited")))
            events.finish()
            process.waitUntilExit()
        }.start()
        guard let result = await opened.receive() else { throw TestFailure("no result from the client") }
        try result.get()
        return WebSocketTestClient(process: process, input: stdin.fileHandleForWriting, events: events)
    }

    /// The HTTP status with which the server refused to upgrade, or `nil` (after closing) if it upgraded.
    static func refusalStatus(_ url: String, headers: [(String, String)] = []) async throws -> Int? {
        do {
            let client = try await connect(url, headers: headers)
            try await client.close()
            return nil
        } catch let failure as UpgradeFailed {
            // No status: the client failed before any answer (a timeout, a reset); say so rather than "nil".
            guard let status = failure.status else { throw TestFailure("no HTTP answer to the upgrade: \(failure.description)") }
            return status
        }
    }

    private func command(_ json: JSON) {
        let data = Data((json.compact + "\n").utf8)
        let input = self.input
        writer.async { try? input.write(contentsOf: data) }
    }

    func send(_ text: String) { command(["op": "text", "data": .string(text)]) }
    func send(_ bytes: ByteBuffer) { command(["op": "binary", "data": .string(Data(bytes.readableBytesView).base64EncodedString())]) }
    /// Sends a hand-made frame (written unmasked here; the client masks it), for protocol-violation tests.
    func send(rawFrame: [UInt8]) { command(["op": "raw", "data": .string(Data(rawFrame).base64EncodedString())]) }
    /// Writes a frame without masking it, as no client may (RFC 6455 §5.1).
    func send(unmaskedFrame: [UInt8]) { command(["op": "unmasked", "data": .string(Data(unmaskedFrame).base64EncodedString())]) }

    /// The longest a test waits for the server's next message or close before it fails instead of hanging.
    static let patience: Duration = .seconds(60)

    /// The next message, or `nil` once the connection has closed. Waits at most ``patience``, then records
    /// an issue (the server sent nothing: a lost message or a hang) and returns `nil`.
    func receive() async -> TerminalMessage? {
        if closed.withLock({ $0 }) != nil { return nil }
        let deadline = ContinuousClock.now + Self.patience
        let event = await events.receive(until: deadline)
        if event == nil, !events.isFinished, ContinuousClock.now >= deadline {
            Issue.record("the server sent nothing for \(Self.patience): no message and no close")
        }
        switch event {
        case .message(let message): return message
        case .close(let frame):
            closed.withLock { $0 = frame }
            return nil
        case nil: return nil
        }
    }

    /// The next message, which must be text. A status line's reference to its `Switchboard.Admin.Error` entry
    /// (` (see /Switchboard.Admin.Error/Id=4)`) is taken off, so that tests can compare lines whatever the id;
    /// ``receiveTextAsSent()`` keeps it.
    func receiveText() async throws -> String {
        TestConnection.withoutErrorReference(try await receiveTextAsSent())
    }

    func receiveTextAsSent() async throws -> String {
        switch await receive() {
        case .text(let text): return text
        case .binary(let bytes): throw TestFailure("expected text, got \(bytes.readableBytes) binary bytes")
        case nil: throw TestFailure("expected text, but the connection closed: \(String(describing: closed.withLock { $0 }))")
        }
    }

    /// Waits for the server to close the connection, skipping messages, and returns its close frame.
    func closeFrame() async throws -> CloseFrame? {
        while await receive() != nil {}
        return closed.withLock { $0 }
    }

    /// Closes the client's command input, as a test process that dies does; the client then closes its
    /// connection and exits (``isRunning``).
    func abandonInput() {
        writer.sync { try? input.close() }
    }

    /// Whether the client's process is still running.
    var isRunning: Bool { process.isRunning }

    /// Closes from the client side and returns the server's close frame.
    @discardableResult
    func close(_ code: Int = 1000) async throws -> CloseFrame? {
        command(["op": "close", "code": .int(code)])
        return try await closeFrame()
    }
}

/// Runs a command (through `/usr/bin/env`) to the end, on a thread of its own; returns its exit status and
/// its output and errors together.
func runToEnd(_ command: [String]) async throws -> (status: Int32, output: String) {
    try await onOwnThread {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Reads a process's output up to its first line break (such as the "port N" a test server prints).
func firstLine(of handle: FileHandle) async throws -> String {
    try await onOwnThread { () -> String in
        var text = ""
        while !text.contains("\n") {
            let data = handle.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        return text
    }
}

/// Runs blocking work on a thread of its own, so that it never occupies the cooperative thread pool that
/// the server under test needs (this machine has two cores, so the pool has two threads).
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A plain HTTP/1.1 exchange over a raw TCP socket, for checking what non-WebSocket clients see.
enum RawHTTP {
    static func get(port: Int, path: String, headers: [String] = []) async throws -> (status: Int, head: String, body: String) {
        try await onOwnThread { try getBlocking(port: port, path: path, headers: headers) }
    }

    static func getBlocking(port: Int, path: String, headers: [String]) throws -> (status: Int, head: String, body: String) {
        let request = (["GET \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        let response = try exchange(port: port, bytes: Array(request.utf8))
        guard let split = response.range(of: "\r\n\r\n") else { throw TestFailure("no header end in \(response)") }
        let head = String(response[..<split.lowerBound])
        let status = Int(head.split(separator: " ")[1]) ?? 0
        return (status, head, String(response[split.upperBound...]))
    }

    /// Sends one request with any method, headers and body, and reads the whole response.
    static func request(
        port: Int, _ method: String, _ path: String, hostHeader: String? = nil, headers: [String] = [], body: String? = nil
    ) async throws -> (status: Int, head: String, body: String) {
        try await onOwnThread {
            var lines = ["\(method) \(path) HTTP/1.1", "Host: \(hostHeader ?? "127.0.0.1:\(port)")", "Connection: close"] + headers
            if let body { lines.append("Content-Length: \(body.utf8.count)") }
            let request = lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? "")
            let response = try exchange(port: port, bytes: Array(request.utf8))
            guard let split = response.range(of: "\r\n\r\n") else { throw TestFailure("no header end in \(response)") }
            let head = String(response[..<split.lowerBound])
            return (Int(head.split(separator: " ")[1]) ?? 0, head, String(response[split.upperBound...]))
        }
    }

    /// The headers of a WebSocket upgrade request (without compression).
    static let upgradeHeaders = [
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
    ]

    /// The value of a response header.
    static func header(_ name: String, in head: String) -> String? {
        for line in head.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name.lowercased() { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// Connects, sends the bytes, and reads until the server closes.
    static func exchange(port: Int, bytes: [UInt8]) throws -> String {
        let socket = try RawSocket(port: port)
        try socket.write(bytes)
        return String(decoding: try socket.readToEnd(), as: UTF8.self)
    }
}

/// The `switchboard` executable built next to the tests.
enum SwitchboardBinary {
    static var url: URL {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("switchboard"),
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("switchboard"),
                URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/switchboard"),
            ]
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw TestFailure("switchboard executable not found in \(candidates.map(\.path))")
            }
            return found
        }
    }
}

extension WebSocketErrorCode {
    var number: Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: self)
        return Int(buffer.readInteger(as: UInt16.self) ?? 0)
    }
}

/// Runs a Python snippet with `input` on its standard input and returns its standard output: for checking
/// output with a reader nobody here wrote (Python's `csv` and `json` modules).
func python(_ script: String, input: String) async throws -> String {
    try await onOwnThread {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("python3 exited with \(process.terminationStatus)") }
        return String(decoding: output, as: UTF8.self)
    }
}
