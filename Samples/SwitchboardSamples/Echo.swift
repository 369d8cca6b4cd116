public import NIOCore
public import Switchboard

/// Echoes every message back: text as text (after ``prefix``), binary as binary, byte for byte.
///
/// It sends nothing else unless asked, so it is what WebSocket conformance suites expect of an echo
/// endpoint: `ws://127.0.0.1:8080/api/echo`. Open it with a prefix: `/api/echo/prefix=%3E%20`.
public actor Echo: TextInputTerminal, BinaryInputTerminal {
    public static var resourceDescription: String { "Echoes text as text and binary as binary" }

    /// Text put before every echoed text message.
    @Property(description: "Text put before every echoed text message") public var prefix = ""
    /// How many messages this terminal has received.
    @Property(readOnly: true, description: "Messages received since the terminal opened") public var messagesReceived = 0

    public init() {}

    public func receive(text: String, from connection: TerminalConnection) async throws {
        messagesReceived += 1
        try await connection.send(prefix + text)
    }

    public func receive(binary: ByteBuffer, from connection: TerminalConnection) async throws {
        messagesReceived += 1
        try await connection.send(binary)
    }

    public func open(_ connection: TerminalConnection) async throws {}
    public func close(_ reason: TerminalCloseReason, on connection: TerminalConnection) async {}
}
