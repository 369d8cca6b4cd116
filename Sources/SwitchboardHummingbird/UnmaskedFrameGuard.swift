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
final class UnmaskedFrameGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// How long a connection that sent a frame without a mask may wait for its watch.
    static let closeLimit: TimeAmount = .seconds(10)

    /// Whether a frame without a mask has come: nothing is passed on from it on.
    private(set) var sawUnmaskedFrame = false
    private var closing: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if sawUnmaskedFrame { return }
        guard unwrapInboundIn(data).maskKey == nil else { return context.fireChannelRead(data) }
        sawUnmaskedFrame = true
        closing = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLimit) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closing?.cancel()
        closing = nil
    }

    /// Puts an ``UnmaskedFrameGuard`` right after the WebSocket frame decoder when the connection is upgraded,
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
                try? operations.addHandler(UnmaskedFrameGuard(), position: .after(decoder))
            }
            operations.removeHandler(context: context, promise: nil)
        }
    }
}
