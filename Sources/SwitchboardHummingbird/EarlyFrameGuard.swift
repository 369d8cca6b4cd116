import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Checks the frames of an upgraded connection's first moments: those read from the upgrade on, before the
/// connection's ``WebSocketWatch`` joins the pipeline (in the connection's first turn on its event loop, after
/// Hummingbird has handed the connection over). Such frames, the client's bytes right behind its upgrade
/// request among them, would otherwise reach Hummingbird's stream unchecked, where a frame without a mask is
/// taken as if it had one and a ping is answered.
///
/// From a frame without a mask on, it passes nothing on, and the watch, when it joins, takes the guard's
/// place and fails the connection after the frames before it (``WebSocketWatch/install(on:state:pings:queueingInput:compressedInput:closeTimeout:closeUnanswered:)``).
/// Should no watch come, the connection is closed at ``closeLimit``.
///
/// It also notes a frame it passes on that Hummingbird's stream will fail the connection for (a reserved bit
/// no extension gives meaning to, a reserved opcode): Hummingbird sends its close for it, and goes on to
/// hand the reader the watch's sentinel. The watch then starts as failed, so that a ping it reads after it
/// goes Hummingbird's way (which answers nothing once it has begun to close) instead of being answered by
/// the reader, whose pong could otherwise reach the socket before Hummingbird's close frame (Autobahn 3.2).
final class EarlyFrameGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// How long a connection that sent a frame without a mask may wait for its watch.
    static let closeLimit: TimeAmount = .seconds(10)

    /// Whether a frame without a mask has come: nothing is passed on from it on.
    private(set) var sawUnmaskedFrame = false
    /// Whether a frame with RSV2 or RSV3 or of a reserved opcode was passed on: it fails the connection.
    private var sawFailingFrame = false
    /// Whether a data frame with RSV1 was passed on: it fails the connection unless permessage-deflate was
    /// negotiated (where Hummingbird's stream takes it, and the reader judges it).
    private var sawRSV1 = false
    private var closing: Scheduled<Void>?

    /// Whether a frame passed on to Hummingbird's stream fails the connection there, given whether
    /// permessage-deflate was negotiated.
    func passedAFailingFrame(compressedInput: Bool) -> Bool { sawFailingFrame || (sawRSV1 && !compressedInput) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if sawUnmaskedFrame { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey == nil else {
            note(frame)
            return context.fireChannelRead(data)
        }
        sawUnmaskedFrame = true
        closing = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLimit) { context.close(promise: nil) }
    }

    private func note(_ frame: WebSocketFrame) {
        switch frame.opcode {
        case .text, .binary, .continuation:
            sawFailingFrame = sawFailingFrame || frame.rsv2 || frame.rsv3
            sawRSV1 = sawRSV1 || frame.rsv1
        case .ping, .pong, .connectionClose: break
        default: sawFailingFrame = true
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closing?.cancel()
        closing = nil
    }

    /// Puts an ``EarlyFrameGuard`` right after the WebSocket frame decoder when the connection is upgraded,
    /// before the bytes read behind the upgrade request are decoded. It sits at the end of the HTTP/1
    /// pipeline, where NIO's upgrade handler, which adds the decoder, tells it of the upgrade; it leaves the
    /// pipeline then, or at the first request that is not an upgrade.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            context.fireUserInboundEventTriggered(event)
            guard let event = event as? HTTPServerUpgradeEvents, case .upgradeComplete = event else { return }
            let operations = context.pipeline.syncOperations
            if let decoder = try? operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
                try? operations.addHandler(EarlyFrameGuard(), position: .after(decoder))
            }
            operations.removeHandler(context: context, promise: nil)
        }
    }
}
