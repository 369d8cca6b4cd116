import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Switchboard
import Synchronization

/// Carries a Switchboard connection over a Hummingbird WebSocket.
struct WebSocketTransport: TerminalTransport {
    let outbound: WebSocketOutboundWriter
    /// Shared with the connection's ``WebSocketWatch``.
    let closeState: WebSocketWatch.CloseState
    /// Writes frames at once, past the writer (`nil` when the watch could not be installed).
    let directWriter: WebSocketWatch.DirectWriter?
    /// The largest frame the writer sends whole (the server's message limit).
    let maxFrameSize: Int

    func send(_ message: TerminalMessage) async throws {
        switch message {
        case .text(let text): try await outbound.writeTextMessage(text)
        case .binary(let bytes): try await outbound.writeBinaryMessage(bytes)
        }
    }

    /// The bytes as one text frame, as they are (a PTY's output, already cut at whole characters); a message
    /// over the frame limit goes as a `String`, which the writer fragments.
    func send(utf8Text: ByteBuffer) async throws {
        guard utf8Text.readableBytes <= maxFrameSize else {
            return try await send(.text(String(decoding: utf8Text.readableBytesView, as: UTF8.self)))
        }
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: utf8Text)))
    }

    /// Hands the bytes to the connection's event loop as one text frame, past Hummingbird's writer, when
    /// the channel is writable and little is handed over this way and not yet written
    /// (``WebSocketWatch/DirectWriter``). Everything sent before has been handed to the event loop by then
    /// (Switchboard's contract), so the frame goes out after it.
    func sendAtOnce(utf8Text: ByteBuffer) -> Bool {
        guard utf8Text.readableBytes <= maxFrameSize, let directWriter else { return false }
        return directWriter.writeText(utf8Text)
    }

    /// The connection channel's event loop.
    var eventLoop: (any EventLoop)? { directWriter?.eventLoop }

    /// The watch holds back the flushes of the frames sent until the run ends (``WebSocketWatch``).
    func beginSendingTogether() { directWriter?.beginSendingTogether() }

    func endSendingTogether() { directWriter?.endSendingTogether() }

    var closedForShutdown: Bool { closeState.closedForShutdown.load(ordering: .acquiring) }

    /// One message as fragments, one per part; the next part is read once the last one is written.
    func sendMessage(binary: Bool, parts: any AsyncSequence<ByteBuffer, any Error>) async throws {
        if binary {
            try await outbound.withBinaryMessageWriter { writer in
                for try await part in parts { try await writer(part) }
            }
        } else {
            try await outbound.withTextMessageWriter { writer in
                for try await part in parts { try await writer(part) }
            }
        }
    }

    func close(code: CloseCode, reason: String) async throws {
        closeState.closingItself.store(true, ordering: .releasing)
        try await outbound.close(WebSocketErrorCode(codeNumber: Int(code.rawValue)), reason: reason.isEmpty ? nil : reason)
    }
}
