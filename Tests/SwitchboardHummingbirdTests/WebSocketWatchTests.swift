import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import SwitchboardHummingbird

/// The watch's writer of frames at once (``WebSocketWatch/DirectWriter``), in a pipeline of its own: it
/// writes while the connection can take more, refuses beyond its bound, and writes nothing after a close.
@Suite struct WebSocketWatchTests {
    @Test func framesAtOnceAreBoundedAndNeverFollowAClose() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder()))
        let writer = try WebSocketWatch.install(on: channel, state: WebSocketWatch.CloseState(), pingInterval: nil) {}

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
        _ = writer.writeText(ByteBuffer(string: "late"))
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil, "nothing after the close frame")
        _ = try channel.finish()
    }
}
