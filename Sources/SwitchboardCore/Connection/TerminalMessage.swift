public import NIOCore

/// A WebSocket message in either direction.
public enum TerminalMessage: Sendable, Equatable {
    case text(String)
    case binary(ByteBuffer)
}

extension TerminalMessage {
    /// The size of the message on the wire before compression: UTF-8 bytes of text, or the binary bytes.
    var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.readableBytes
        }
    }
}
