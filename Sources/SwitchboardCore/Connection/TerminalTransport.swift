/// Sends messages to, and closes, one client connection. A transport binding (such as the Hummingbird one)
/// provides it; tests can provide an in-memory one.
public protocol TerminalTransport: Sendable {
    /// Sends one message. Switchboard never calls this concurrently for one connection.
    func send(_ message: TerminalMessage) async throws
    /// Starts the closing handshake with the code and reason (at most 123 bytes).
    func close(code: CloseCode, reason: String) async throws
    /// Whether the transport itself closed the connection because the server is shutting down (default
    /// `false`). The attached terminal is then closed with ``TerminalCloseReason/shutdown``.
    var closedForShutdown: Bool { get }
}

extension TerminalTransport {
    public var closedForShutdown: Bool { false }
}
