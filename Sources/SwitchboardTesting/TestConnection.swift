public import NIOCore
public import Switchboard

/// An in-process client for a `SwitchboardAPI`: no sockets, the same dispatcher, Shell and terminals.
///
/// Use it to test terminals in your own test suite:
/// ```swift
/// let api = SwitchboardAPI()
/// api.register { Echo() }
/// let client = TestConnection.open(api, uri: "/echo/prefix=>")
/// await client.send("hi")
/// #expect(try await client.receiveText() == ">hi")
/// ```
public final class TestConnection: Sendable {
    /// A close frame as the client saw it.
    public struct Close: Sendable, Equatable {
        public let code: CloseCode
        public let reason: String
        public init(code: CloseCode, reason: String) {
            self.code = code
            self.reason = reason
        }
    }

    private let input: AsyncStream<TerminalMessage>.Continuation
    private let output = Mailbox<TerminalMessage>()
    private let closeFrame = Mailbox<Close>()
    private let served: Task<Void, any Error>

    private struct Transport: TerminalTransport {
        let output: Mailbox<TerminalMessage>
        let closeFrame: Mailbox<Close>
        func send(_ message: TerminalMessage) async throws { output.deliver(message) }
        func close(code: CloseCode, reason: String) async throws {
            closeFrame.deliver(Close(code: code, reason: reason))
            closeFrame.finish()
            output.finish()
        }
    }

    private init(api: SwitchboardAPI, request: ConnectionRequest) {
        let (inbound, input) = AsyncStream.makeStream(of: TerminalMessage.self)
        self.input = input
        let transport = Transport(output: output, closeFrame: closeFrame)
        served = Task { [output, closeFrame] in
            defer {
                output.finish()
                closeFrame.finish()
            }
            try await api.serve(request, inbound: inbound, transport: transport)
        }
    }

    /// Opens a connection to the terminal a URI names (relative to the API root; `/` opens the Shell).
    public static func open(
        _ api: SwitchboardAPI, uri: String = "/", headers: HTTPFields = HTTPFields(), clientIP: String = "127.0.0.1"
    ) -> TestConnection {
        var path = uri
        var query: String?
        if let mark = uri.firstIndex(of: "?") {
            path = String(uri[..<mark])
            query = String(uri[uri.index(after: mark)...])
        }
        let request = ConnectionRequest(
            path: path, query: query, headers: headers, host: "localhost", clientIP: clientIP, isEncrypted: false)
        return TestConnection(api: api, request: request)
    }

    /// Sends a text message.
    public func send(_ text: String) async { input.yield(.text(text)) }

    /// Sends a binary message.
    public func send(_ bytes: ByteBuffer) async { input.yield(.binary(bytes)) }

    /// The next message from the server, or `nil` once the server has closed the connection.
    public func receive() async -> TerminalMessage? { await output.receive() }

    /// The next message, which must be text. A status line's reference to its `Switchboard.Admin.Error` entry
    /// (` (see /Switchboard.Admin.Error/Id=4)`) is taken off (the id depends on what ran before); ``receive()``
    /// gives the message as it was sent.
    /// - Throws: ``TestConnectionError`` if it is binary or the connection closed.
    public func receiveText() async throws -> String {
        switch await receive() {
        case .text(let text): return Self.withoutErrorReference(text)
        case .binary(let bytes): throw TestConnectionError("Expected text but got \(bytes.readableBytes) binary bytes")
        case nil: throw TestConnectionError("Expected text but the connection closed")
        }
    }

    /// A status line without its reference to a `Switchboard.Admin.Error` entry
    /// (` (see /Switchboard.Admin.Error/Id=4)`); other text as it is.
    public static func withoutErrorReference(_ line: String) -> String {
        let marker = "(see /Switchboard.Admin.Error/Id="
        guard line.hasSuffix(")"), let open = line.lastIndex(of: "("), open > line.startIndex else { return line }
        let reference = line[open...]
        let space = line.index(before: open)
        guard line[space] == " ", reference.hasPrefix(marker), reference.dropFirst(marker.count).dropLast().allSatisfy(\.isNumber) else {
            return line
        }
        return String(line[..<space])
    }

    /// Waits until the server closes the connection, skipping messages, and returns its close frame.
    public func waitForClose() async -> Close? {
        while await receive() != nil {}
        return await closeFrame.receive()
    }

    /// Closes the connection from the client's side and waits until the server has finished with it.
    public func close() async {
        input.finish()
        _ = try? await served.value
    }
}

/// A test connection did not get what the test expected.
public struct TestConnectionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
