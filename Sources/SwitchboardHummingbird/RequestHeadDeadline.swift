public import Hummingbird
public import HummingbirdCore
public import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Switchboard

/// Closes a connection whose first HTTP request head has not fully arrived within a deadline.
///
/// Hummingbird applies its idle timeout only once a request is being served, so a client that sends a
/// request head one byte at a time (a slow-loris) could otherwise hold a connection open for ever. The
/// handler watches the raw bytes for the blank line that ends the head, then removes itself.
///
/// At the deadline, a client that sent part of a head is answered `408` (by ``MalformedHeadResponder``, told
/// with ``RequestHeadDeadlinePassed``); one that sent nothing gets no answer. Either way the handlers behind
/// are told that no request will come, as a client's half-close would tell them, before the connection is
/// closed: HummingbirdWebSocket logs an error for a connection that closes while it still waits to see whether
/// the first request is an upgrade, which any client could otherwise fill the log with.
final class RequestHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    /// The last bytes seen, to find `\r\n\r\n` across reads.
    private var tail: [UInt8] = []
    private var headComplete = false

    init(deadline: TimeAmount) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let bytes = unwrapInboundIn(data)
            for byte in bytes.readableBytesView {
                tail.append(byte)
                if tail.count > 4 { tail.removeFirst() }
                if tail == [13, 10, 13, 10] {
                    headComplete = true
                    break
                }
            }
            if headComplete {
                timer?.cancel()
                timer = nil
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard timer == nil, !headComplete else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) { [self] in
            guard !headComplete else { return }
            headComplete = true
            if !tail.isEmpty { context.fireUserInboundEventTriggered(RequestHeadDeadlinePassed(deadline: deadline)) }
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.close(promise: nil)
        }
    }
}

/// Sent into a connection's pipeline when its first request head is still not whole at the deadline
/// (``RequestHeadDeadlineHandler``), for ``MalformedHeadResponder`` to answer `408`.
struct RequestHeadDeadlinePassed: Sendable {
    let deadline: TimeAmount
}

/// Hummingbird's HTTP/1 + WebSocket child channel with Switchboard's handlers in front of it:
/// ``SendStallDeadlineHandler`` nearest the socket, then TLS (when configured), then
/// ``RequestHeadDeadlineHandler`` and ``UpgradeRefusalHandler``, which see plain HTTP.
///
/// Every connection is counted by ``TCPConnectionLimiter`` from here until it closes; one beyond its caps
/// gets a ``ConnectionRefusalHandler`` ahead of the plain-HTTP handlers, which answers it and passes nothing on.
///
/// It also registers the connection's graceful-shutdown handler, for the connection's life, which sends a
/// ``ServerShutdownNotice`` into its pipeline: an upgraded connection's ``WebSocketWatch`` takes it (so that
/// it tells Hummingbird's close on shutdown from other closes). Registered here, before Hummingbird's frames,
/// rather than around the upgraded connection's wait, which comes after them: there its frames took a slab of
/// their own, about 1 KiB per idle WebSocket connection; here they fit in the task's first slab.
struct DeadlineGuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let deadline: TimeAmount
    /// How long output may wait with the client taking none of it (``SendStallDeadlineHandler``).
    let stallLimit: TimeAmount
    let tls: (any ConnectionEncryption)?
    let limiter: TCPConnectionLimiter

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let refusal: SwitchboardError?
        switch limiter.admit(channel.remoteAddress) {
        case .admitted(let peerKey):
            let limiter = self.limiter
            channel.closeFuture.whenComplete { _ in limiter.release(peerKey) }
            refusal = nil
        case .refused(let error):
            let limiter = self.limiter
            channel.closeFuture.whenComplete { _ in limiter.refusalEnded() }
            refusal = error
        case .dropped:
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.alreadyClosed)
        }
        do {
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveSizes)
            let operations = channel.pipeline.syncOperations
            if let tls {
                let encryption = tls.makeHandler()
                try operations.addHandler(encryption, name: encryptionHandlerName, position: .first)
                try operations.addHandler(UpgradeRefusalHandler(), position: .after(encryption))
                try operations.addHandler(RequestHeadDeadlineHandler(deadline: deadline), position: .after(encryption))
                if let refusal { try operations.addHandler(ConnectionRefusalHandler(refusal), position: .after(encryption)) }
            } else {
                try operations.addHandler(RequestHeadDeadlineHandler(deadline: deadline), position: .first)
                try operations.addHandler(UpgradeRefusalHandler(), position: .first)
                if let refusal { try operations.addHandler(ConnectionRefusalHandler(refusal), position: .first) }
            }
            try operations.addHandler(SendStallDeadlineHandler(limit: stallLimit), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Right after the HTTP decoder: one handler answers a first head that does not parse, one puts each
            // extension offer of an upgrade on a line of its own, and one writes into every head what the
            // version-independent request would lose.
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(HTTP1HeadNormalizer(), position: .after(decoder))
            try operations.addHandler(ExtensionOfferSplitter(), position: .after(decoder))
            try operations.addHandler(MalformedHeadResponder(), position: .after(decoder))
            // At the end, to hear of an upgrade: frames read before the connection's watch are checked too.
            try operations.addHandler(EarlyFrameGuard.Installer(), position: .last)
            return value
        }
    }

    /// The sizes of the buffers a connection reads into. A channel keeps its last receive buffer for the
    /// next read, for as long as it lives; NIO's default starts at 2,048 bytes, which every idle connection
    /// would hold. Starting at 512 (an upgrade request is 200 to 700 bytes) and growing as reads fill the
    /// buffer costs a busy connection a read or two more at the start.
    static var receiveSizes: AdaptiveRecvByteBufferAllocator { .init(minimum: 64, initial: 512, maximum: 65_536) }

    func handle(value: Value, logger: Logger) async {
        let channel = value.channel
        await withGracefulShutdownHandler {
            await base.handle(value: value, logger: logger)
        } onGracefulShutdown: {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ServerShutdownNotice()) }
        }
    }
}

/// Sent into a connection's pipeline when the server's graceful shutdown begins (``DeadlineGuardedChannel``).
struct ServerShutdownNotice: Sendable {}

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrades for Switchboard: Hummingbird's `http1WebSocketUpgrade`, configured from
    /// `configuration`, with a deadline for the first request head (``SwitchboardServerConfiguration/requestHeadTimeout``),
    /// one for output its client stops taking (``SwitchboardServerConfiguration/idleTimeout``), and TLS when
    /// ``SwitchboardServerConfiguration/tls`` is set.
    public static func switchboard<WSResponderBuilder: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: WSResponderBuilder, configuration: SwitchboardServerConfiguration
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = NegotiatingResponder(base: webSocketRouter.buildResponder(), root: configuration.normalizedRoot)
        var http1 = configuration.http1
        let own = http1.additionalChannelHandlers
        http1.additionalChannelHandlers = { [ClosingResponseHandler()] + own() }
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: configuration.webSocketConfiguration)
        let deadline = TimeAmount(configuration.requestHeadTimeout)
        let limiter = TCPConnectionLimiter(
            maxConnections: configuration.effectiveMaxTCPConnections, maxConnectionsPerPeer: configuration.maxTCPConnectionsPerPeer,
            trustedProxies: configuration.trustedProxies)
        return .init { responder in
            DeadlineGuardedChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
                deadline: deadline, stallLimit: TimeAmount(configuration.idleTimeout), tls: configuration.tls, limiter: limiter)
        }
    }
}
