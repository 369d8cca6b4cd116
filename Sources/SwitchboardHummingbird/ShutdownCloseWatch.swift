import NIOCore
import NIOWebSocket
import Synchronization

/// Makes a graceful shutdown of the HTTP server close WebSocket connections the way a server going away
/// should: `1001 Server shutting down`, and the attached terminal closed with `.shutdown`.
///
/// HummingbirdWebSocket 2.8 closes every WebSocket with `1000` (normal closure) when the server it runs in
/// shuts down gracefully, however the application is run (`runService()`, `addServices`, a `ServiceGroup` of
/// your own). Once the connection's own graceful-shutdown handler has run (``State/serverIsShuttingDown()``),
/// a close with code 1000 that neither Switchboard (``WebSocketTransport``) nor the client started is that
/// one: this handler, in the pipeline of each upgraded connection, rewrites it to 1001 and notes the
/// shutdown for the connection before the frame leaves, so the client and the terminal learn the same
/// reason.
///
/// Both graceful-shutdown handlers run in one pass, Hummingbird's first; its close is written from a task it
/// starts, which in practice runs after Switchboard's handler has set the flag. Should it ever run first,
/// the client gets 1000 and the terminal `.disconnected`, as before this handler: consistent, if plainer.
/// Without the flag, a client's own close that reached the server before this handler was installed
/// (Autobahn's 7.7 cases send one right after the upgrade) would have been taken for the shutdown.
final class ShutdownCloseWatch: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// What the connection's transport and this handler share.
    final class State: Sendable {
        /// Set by ``WebSocketTransport`` before it sends a close of Switchboard's own.
        let closingItself = Atomic<Bool>(false)
        /// Set when the client's close frame arrived before any close was sent.
        let clientClosed = Atomic<Bool>(false)
        /// Set by the connection's graceful-shutdown handler: the server is shutting down.
        let serverShuttingDown = Atomic<Bool>(false)
        /// Set when this handler turned the server's close into 1001.
        let closedForShutdown = Atomic<Bool>(false)

        /// Called by the connection's graceful-shutdown handler.
        func serverIsShuttingDown() { serverShuttingDown.store(true, ordering: .releasing) }
    }

    static let reason = "Server shutting down"
    let state: State

    init(state: State) { self.state = state }

    /// Installs the watch on an upgraded channel, on its event loop; throws when the pipeline is not the one
    /// expected.
    static func install(in operations: ChannelPipeline.SynchronousOperations, state: State) throws {
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try operations.addHandler(ShutdownCloseWatch(state: state), position: .after(decoder))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .connectionClose { state.clientClosed.store(true, ordering: .releasing) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        guard frame.opcode == .connectionClose, state.serverShuttingDown.load(ordering: .acquiring),
            !state.closingItself.load(ordering: .acquiring), !state.clientClosed.load(ordering: .acquiring)
        else {
            context.write(data, promise: promise)
            return
        }
        var payload = frame.unmaskedData
        guard payload.readWebSocketErrorCode() == .normalClosure else {
            context.write(data, promise: promise)
            return
        }
        state.closedForShutdown.store(true, ordering: .releasing)
        var replacement = context.channel.allocator.buffer(capacity: 2 + Self.reason.utf8.count)
        replacement.write(webSocketErrorCode: .goingAway)
        replacement.writeString(Self.reason)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: replacement)), promise: promise)
    }
}
