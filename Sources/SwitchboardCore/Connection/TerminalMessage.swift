public import NIOCore

/// A WebSocket message in either direction.
public enum TerminalMessage: Sendable, Equatable {
    case text(String)
    case binary(ByteBuffer)
}
