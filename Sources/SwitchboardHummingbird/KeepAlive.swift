import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import SwitchboardCore

/// Pings each client with an empty payload and closes the connection (1001) when it has not answered by the
/// next ping.
///
/// HummingbirdWebSocket's own pings carry 16 random bytes, which line clients such as wsdump print as a line
/// of bytes. These carry nothing. It is a handler in the channel's pipeline right after the frame decoder,
/// where it sees the pongs (Hummingbird keeps them from the inbound stream) and every close frame; it pings
/// from a timer of the connection's event loop, so an idle connection has no task of its own for it.
/// Pinging stops once either side has sent a close frame.
final class KeepAlive: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let interval: TimeAmount
    private let outbound: WebSocketOutboundWriter
    private var timer: RepeatedTask?
    /// Whether a ping is out and its pong has not come back.
    private var awaitingPong = false

    private init(interval: TimeAmount, outbound: WebSocketOutboundWriter) {
        self.interval = interval
        self.outbound = outbound
    }

    /// Installs the pings on an upgraded channel, on its event loop; throws when the pipeline is not the one
    /// expected.
    static func install(
        in operations: ChannelPipeline.SynchronousOperations, interval: Duration, outbound: WebSocketOutboundWriter
    ) throws {
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try operations.addHandler(KeepAlive(interval: .nanoseconds(interval.nanoseconds), outbound: outbound), position: .after(decoder))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (keepAlive, context) = loopBound.value
            keepAlive.tick(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { stop() }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).opcode {
        case .pong: awaitingPong = false
        case .connectionClose: stop()
        default: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose { stop() }
        context.write(data, promise: promise)
    }

    private func tick(context: ChannelHandlerContext) {
        guard timer != nil else { return }
        if awaitingPong {
            stop()
            // Closed through Hummingbird's writer, so that its close handshake knows of it.
            let outbound = outbound
            Task { try? await outbound.close(.goingAway, reason: "No answer to ping") }
            return
        }
        awaitingPong = true
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
    }
}
