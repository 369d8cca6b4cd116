import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import SwitchboardHummingbird

/// The watch's writer of frames at once (``WebSocketWatch/DirectWriter``), in a pipeline of its own: it
/// writes while the connection can take more, refuses beyond its bound, and writes nothing after a close.
/// Messages sent together leave with one flush at the run's end, and never wait beyond it.
@Suite struct WebSocketWatchTests {
    /// A connected channel with a frame decoder and the watch after it, as an upgraded connection has them.
    static func watchedChannel() throws -> (EmbeddedChannel, WebSocketWatch.DirectWriter) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
        let writer = try WebSocketWatch.install(on: channel, state: WebSocketWatch.CloseState(), pingInterval: nil) {}
        return (channel, writer)
    }

    @Test func messagesSentTogetherLeaveWithOneFlushAtTheRunsEnd() throws {
        let (channel, writer) = try Self.watchedChannel()
        func text(_ string: String) -> WebSocketFrame { WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: string)) }
        // As Hummingbird's writer does: a write and a flush for each frame (not waiting for the write).
        func send(_ string: String) { channel.writeAndFlush(text(string), promise: nil) }
        func flushed() throws -> [String] {
            var texts: [String] = []
            while let frame = try channel.readOutbound(as: WebSocketFrame.self) { texts.append(String(buffer: frame.unmaskedData)) }
            return texts
        }

        // Outside a run, every flush passes at once (as Hummingbird's writer makes them: one per frame).
        send("alone")
        #expect(try flushed() == ["alone"])

        // In a run: written, held back, and flushed once when the run's end reaches the event loop.
        writer.beginSendingTogether()
        send("200: OK")
        send("[entities]")
        send("? /x")
        #expect(try flushed() == [], "held while the run lasts")
        writer.endSendingTogether()
        #expect(try flushed() == [], "the end comes after the run's frames, on the event loop")
        channel.embeddedEventLoop.run()
        #expect(try flushed() == ["200: OK", "[entities]", "? /x"])

        // Nothing is held while the channel cannot write: the writer would wait for that flush.
        writer.beginSendingTogether()
        channel.isWritable = false
        send("full")
        #expect(try flushed() == ["full"])
        channel.isWritable = true
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()

        // A frame written at once in a run is held with the others and leaves with them, in order.
        writer.beginSendingTogether()
        send("before")
        #expect(writer.writeText(ByteBuffer(string: "at once")))
        channel.embeddedEventLoop.run()
        #expect(try flushed() == [], "held while the run lasts")
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()
        #expect(try flushed() == ["before", "at once"])

        // Outside a run, a frame written at once is flushed at once.
        #expect(writer.write(ByteBuffer(bytes: [0, 1, 2]), opcode: .binary))
        channel.embeddedEventLoop.run()
        let binary = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(binary.opcode == .binary && binary.fin && binary.unmaskedData == ByteBuffer(bytes: [0, 1, 2]))

        // A close in the middle of a run flushes first: nothing held is lost.
        writer.beginSendingTogether()
        send("last")
        #expect(try flushed() == [])
        channel.close(promise: nil)
        #expect(try flushed() == ["last"])
        writer.endSendingTogether()
        channel.embeddedEventLoop.run()
        #expect(try flushed() == [])
    }

    @Test func framesAtOnceAreBoundedAndNeverFollowAClose() throws {
        let (channel, writer) = try Self.watchedChannel()

        #expect(writer.writeText(ByteBuffer(string: "echo")))
        channel.embeddedEventLoop.run()
        let frame = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(frame.opcode == .text && frame.fin && String(buffer: frame.unmaskedData) == "echo")

        // Handed over and not yet written (the event loop has not run): at most the bound.
        let half = ByteBuffer(repeating: UInt8(ascii: "a"), count: WebSocketWatch.DirectWriter.inFlightLimit / 2 + 1)
        #expect(writer.writeText(half))
        #expect(!writer.writeText(half), "over the bound: refused, for the caller's slower way")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.unmaskedData.readableBytes == half.readableBytes)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        #expect(writer.writeText(half), "written: room again")
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: WebSocketFrame.self)

        channel.isWritable = false
        #expect(!writer.writeText(ByteBuffer(string: "full")), "a connection that cannot write takes nothing at once")
        channel.isWritable = true

        var closing = ByteBuffer()
        closing.write(webSocketErrorCode: .normalClosure)
        try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: closing))
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        #expect(!writer.writeText(ByteBuffer(string: "late")), "refused after a close frame: the writer's way fails")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing after the close frame")
        _ = try channel.finish()
    }

    /// A frame handed over before a close frame was written, and reaching the event loop after it, is dropped;
    /// a closed channel takes nothing.
    @Test func framesAtOnceAfterACloseAreDroppedOrRefused() throws {
        let (channel, writer) = try Self.watchedChannel()
        #expect(writer.writeText(ByteBuffer(string: "handed over")))
        var closing = ByteBuffer()
        closing.write(webSocketErrorCode: .normalClosure)
        try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: closing))
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self)?.opcode == .connectionClose)
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
        #expect(!writer.writeText(ByteBuffer(string: "closed")))
    }
}
