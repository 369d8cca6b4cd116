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
    /// How whole messages are compressed, on a connection that negotiated permessage-deflate and whose
    /// client allows a window the server's compressor keeps to; `nil`: they go as they are.
    let compression: MessageCompression?

    init(
        outbound: WebSocketOutboundWriter, closeState: WebSocketWatch.CloseState, directWriter: WebSocketWatch.DirectWriter?,
        maxFrameSize: Int, compression: MessageCompression?
    ) {
        self.outbound = outbound
        self.closeState = closeState
        self.directWriter = directWriter
        self.maxFrameSize = maxFrameSize
        self.compression = compression
    }

    /// Hummingbird's writer, once the frames the direct way holds for a run of messages sent together have
    /// been handed to the event loop: what the writer sends reaches the event loop later, so it follows them.
    private func writer() -> WebSocketOutboundWriter {
        directWriter?.handOverHeldFrames()
        return outbound
    }

    /// Sends a message as one frame, compressed here when the connection compresses and the message is long
    /// enough (``MessageCompression``). A message that fits in one frame is handed straight to the connection's
    /// event loop while the channel is writable, without the writer's task machinery (every message before
    /// it has been handed over by then, so it goes out after them); a message the direct way refuses goes
    /// through Hummingbird's writer, which waits while the channel is not writable, and one over the frame
    /// limit goes through the writer in fragments, which the extension compresses.
    func send(_ message: TerminalMessage) async throws {
        switch message {
        case .text(let text):
            guard text.utf8.count <= maxFrameSize else { return try await writer().writeTextMessage(text) }
            try await send(ByteBuffer(string: text), opcode: .text)
        case .binary(let bytes):
            guard bytes.readableBytes <= maxFrameSize else { return try await writer().writeBinaryMessage(bytes) }
            try await send(bytes, opcode: .binary)
        }
    }

    /// The bytes as one text frame, as they are (a PTY's output, already cut at whole characters) or
    /// compressed; a message over the frame limit goes as a `String`, which the writer fragments.
    func send(utf8Text: ByteBuffer) async throws {
        guard utf8Text.readableBytes <= maxFrameSize else {
            return try await writer().writeTextMessage(String(decoding: utf8Text.readableBytesView, as: UTF8.self))
        }
        try await send(utf8Text, opcode: .text)
    }

    /// One frame of a whole message, compressed when the connection compresses it, handed over directly
    /// when the direct way takes it, else through the writer (whose extension passes a compressed frame on
    /// as it is).
    private func send(_ bytes: ByteBuffer, opcode: WebSocketOpcode) async throws {
        var frame = WebSocketFrame(fin: true, opcode: opcode, data: bytes)
        if let compressed = compression?.compress(bytes) {
            frame.data = compressed
            frame.rsv1 = true
        }
        if let directWriter, directWriter.write(frame) { return }
        try await writer().write(.custom(frame))
    }

    /// Hands the bytes to the connection's event loop as one text frame, past Hummingbird's writer, when
    /// the channel is writable and little is handed over this way and not yet written
    /// (``WebSocketWatch/DirectWriter``). Everything sent before has been handed to the event loop by then
    /// (Switchboard's contract), so the frame goes out after it.
    ///
    /// On a connection that compresses, only what is sent uncompressed anyway (a keystroke's echo) goes
    /// this way: the caller is the PTY's event loop, which is not held up compressing, and a longer message
    /// is left to the caller's other way (the PTY session's task), which compresses it.
    func sendAtOnce(utf8Text: ByteBuffer) -> Bool {
        guard utf8Text.readableBytes <= maxFrameSize, let directWriter else { return false }
        if compression != nil, utf8Text.readableBytes >= PerMessageDeflate.minimumCompressedSize { return false }
        return directWriter.writeText(utf8Text)
    }

    /// Calls `resume` on the event loop once the channel can write again, after ``sendAtOnce(utf8Text:)``
    /// refused because it could not (``WebSocketWatch/DirectWriter/callWhenWritable(_:)``). Not on a connection
    /// that compresses: its longer messages never go the direct way, whatever the room.
    func callWhenWritable(_ resume: @escaping @Sendable () -> Void) -> Bool {
        guard compression == nil, let directWriter else { return false }
        return directWriter.callWhenWritable(resume)
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
            try await writer().withBinaryMessageWriter { writer in
                for try await part in parts { try await writer(part) }
            }
        } else {
            try await writer().withTextMessageWriter { writer in
                for try await part in parts { try await writer(part) }
            }
        }
    }

    func close(code: CloseCode, reason: String) async throws {
        closeState.closingItself.store(true, ordering: .releasing)
        try await writer().close(WebSocketErrorCode(codeNumber: Int(code.rawValue)), reason: reason.isEmpty ? nil : reason)
    }
}
