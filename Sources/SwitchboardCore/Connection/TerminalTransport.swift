public import NIOCore

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
    /// Sends one message whose content comes in parts, as they come (on WebSocket, one fragment per part), so
    /// that the whole message is never held. Switchboard never calls it concurrently with ``send(_:)``.
    ///
    /// The default gathers the parts and sends them as one message: a transport that can send fragments
    /// should implement it.
    /// - Parameters:
    ///   - binary: Whether it is a binary message; a text message's parts are UTF-8 and whole characters.
    ///   - parts: The content.
    func sendMessage(binary: Bool, parts: any AsyncSequence<ByteBuffer, any Error>) async throws
    /// Sends one text message whose content is already UTF-8 bytes of whole characters (the caller has
    /// checked them), without making a `String` of it first. Switchboard never calls it concurrently with
    /// ``send(_:)``.
    ///
    /// The default makes a `String` of the bytes and calls ``send(_:)``: a transport that can frame bytes as
    /// text should implement it.
    func send(utf8Text: ByteBuffer) async throws
    /// Hands one text message of UTF-8 bytes of whole characters to the transport without waiting, if it
    /// can take it at once, and returns whether it did; otherwise it sends nothing and the caller sends the
    /// message with ``send(utf8Text:)``. Switchboard calls it from any thread, never concurrently with the
    /// other sends, and only when every message sent before has been handed over: the message must go out
    /// after them. It must not block, and must refuse (return `false`) rather than buffer without bound:
    /// when the connection cannot write, or too much handed over this way is not yet written.
    ///
    /// A PTY session's only client gets the program's output this way straight from the PTY's event loop,
    /// one hand-over between threads less for every keystroke's echo. The default returns `false`.
    func sendAtOnce(utf8Text: ByteBuffer) -> Bool
    /// After ``sendAtOnce(utf8Text:)`` refused for want of room (the connection could not write, or what was
    /// handed over is not yet written), asks for `resume` to be called once, on the connection's event loop,
    /// when there is room again or when the connection closes; returns whether it will be. Switchboard calls it only on the connection's event loop (``eventLoop``). A
    /// transport that refused for another reason, or cannot tell when it has room again, returns `false` and
    /// never calls `resume`: the caller then sends with ``send(utf8Text:)``.
    ///
    /// A connection's own PTY program, read on that event loop, waits this way for a client that reads more
    /// slowly than the program writes: its output stays on the event loop, and the PTY is not read until the
    /// connection has room, with no hand-over to another thread. The default returns `false`.
    func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool
    /// The event loop the connection is served on, if it has one (default `nil`). A connection's own PTY
    /// program is read and written on it, so that its output reaches the connection without crossing threads.
    var eventLoop: (any EventLoop)? { get }
    /// Starts a run of messages that go to the network together: the messages sent until the matching
    /// ``endSendingTogether()`` may be held back and written in one go when it comes. Calls nest; each is
    /// matched by one end. The transport must not hold back so much that a send waits for room (it writes
    /// when the connection's buffer is full), nor anything beyond the end. The default does nothing.
    func beginSendingTogether()
    /// Ends a run begun with ``beginSendingTogether()``: once the last one ends, what was held back goes out,
    /// after every message sent in the run.
    func endSendingTogether()
}

extension TerminalTransport {
    public var closedForShutdown: Bool { false }

    public func sendMessage(binary: Bool, parts: any AsyncSequence<ByteBuffer, any Error>) async throws {
        var whole = ByteBuffer()
        for try await var part in parts { whole.writeBuffer(&part) }
        try await send(binary ? .binary(whole) : .text(String(buffer: whole)))
    }

    public func send(utf8Text: ByteBuffer) async throws {
        try await send(.text(String(decoding: utf8Text.readableBytesView, as: UTF8.self)))
    }

    public func sendAtOnce(utf8Text: ByteBuffer) -> Bool { false }

    public func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool { false }

    public var eventLoop: (any EventLoop)? { nil }
    public func beginSendingTogether() {}
    public func endSendingTogether() {}
}
